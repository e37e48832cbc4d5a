export * from './postgres';
export { DataSource, type MigrationInterface, type QueryRunner, EntitySchema } from 'typeorm';
