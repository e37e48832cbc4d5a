import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Module boundaries follow ../shared/STYLE.md, on two axes (every project carries one tag of each):
// - type: app -> application -> domain; adapters -> application/domain/platform; a domain library imports only
//   other domain libraries and the contracts, and never @nestjs/*, typeorm, kafkajs, @clickhouse/client, pg or fastify.
// - scope: a service's projects import their own scope and `scope:shared` only, so no service reaches into another's
//   libraries; the simulation bench, the CLI and the tools are the declared exceptions.
// tools/lint/module-boundaries.spec.ts lints probe imports against these rules.
export default [
  { ignores: ['**/node_modules/**', '.local/**', '.nx/**', '**/dist/**', 'tmp/**', 'docs/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'],
              bannedExternalImports: ['@nestjs/*', 'typeorm', 'kafkajs', '@clickhouse/client', 'pg', 'fastify'] },
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts'],
              bannedExternalImports: ['@nestjs/*', 'typeorm', 'kafkajs', '@clickhouse/client', 'pg', 'fastify'] },
            { sourceTag: 'type:application', onlyDependOnLibsWithTags: ['type:domain', 'type:application', 'type:contracts', 'type:platform'],
              bannedExternalImports: ['typeorm', 'kafkajs', '@clickhouse/client', 'pg'] },
            { sourceTag: 'type:adapters', onlyDependOnLibsWithTags: ['type:domain', 'type:application', 'type:contracts', 'type:platform', 'type:adapters', 'type:testing'] },
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:platform', 'type:contracts', 'type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:platform', 'type:contracts', 'type:testing', 'type:domain'] },
            // The published client (libs/client) stands alone: its build has no path aliases, so src/ cannot import the
            // monorepo at all; its tests may use the testing and platform libraries to start the real services.
            { sourceTag: 'type:client', onlyDependOnLibsWithTags: ['type:testing', 'type:platform', 'type:contracts'],
              bannedExternalImports: ['@nestjs/*', 'typeorm', 'kafkajs', '@clickhouse/client', 'pg', 'fastify'] },
            { sourceTag: 'type:simulation', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:testing', 'type:simulation'],
              bannedExternalImports: ['@nestjs/*', 'typeorm', 'kafkajs', '@clickhouse/client', 'pg', 'fastify'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            { sourceTag: 'scope:admission', onlyDependOnLibsWithTags: ['scope:admission', 'scope:shared'] },
            { sourceTag: 'scope:ledger', onlyDependOnLibsWithTags: ['scope:ledger', 'scope:shared'] },
            { sourceTag: 'scope:usage-ingest', onlyDependOnLibsWithTags: ['scope:usage-ingest', 'scope:shared'] },
            { sourceTag: 'scope:load-feedback', onlyDependOnLibsWithTags: ['scope:load-feedback', 'scope:shared'] },
            { sourceTag: 'scope:client', onlyDependOnLibsWithTags: ['scope:client', 'scope:shared'] },
            // The closed-loop bench runs the load-feedback controller against admission's real decision function.
            { sourceTag: 'scope:simulation', onlyDependOnLibsWithTags: ['scope:simulation', 'scope:load-feedback', 'scope:admission', 'scope:shared'] },
            // The SRE command reads and repairs the ledger; the tools start, fault and drive every service.
            { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:ledger', 'scope:shared'] },
            { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
    },
  },
  {
    // Service code reaches Kafka and ClickHouse only through @access/platform-kafka and @access/platform-clickhouse, and
    // OpenTelemetry only through the platform's tracing helpers.
    // TypeORM is not on this list: the ledger's adapters write raw SQL on the DataSource that @access/platform-postgres
    // creates (docs/decisions/0002-raw-sql-with-typeorm.md).
    files: ['apps/**/*.ts', 'libs/credit-ledger/**/*.ts', 'libs/admission/**/*.ts', 'libs/usage/**/*.ts', 'libs/load-feedback/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [
        { name: 'kafkajs', message: 'Use @access/platform-kafka.' },
        { name: '@clickhouse/client', message: 'Use @access/platform-clickhouse.' },
        { name: '@opentelemetry/api', message: 'Use the tracing helpers of @access/platform-observability and @access/platform-kafka.' },
        { name: '@opentelemetry/sdk-trace', message: 'Tracing is set up once, by @access/platform-observability.' },
      ] }],
    },
  },
];
