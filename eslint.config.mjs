import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Module boundaries follow ../shared/STYLE.md: app -> application -> domain; adapters -> application/domain/platform;
// domain libraries import nothing but contracts-free pure code, and never @nestjs/*, typeorm, kafkajs or @clickhouse/client.
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
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
    },
  },
  {
    // Only the platform libraries may import the clients they wrap.
    files: ['apps/**/*.ts', 'libs/credit-ledger/**/*.ts', 'libs/admission/**/*.ts', 'libs/usage/**/*.ts', 'libs/load-feedback/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [
        { name: 'kafkajs', message: 'Use @access/platform-kafka.' },
        { name: '@clickhouse/client', message: 'Use @access/platform-clickhouse.' },
      ] }],
    },
  },
];
