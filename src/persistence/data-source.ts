/**
 * For the TypeORM CLI only (`npx typeorm -d dist/src/persistence/data-source.js migration:show`):
 * the DataSource of the config named by MIMI_GATEWAY_CONFIG. The app builds its own through
 * PersistenceModule; nothing in src/ imports this file.
 */
import { CONFIG_ENV, loadConfig } from '../config/load-config';
import { createDataSource } from './create-data-source';

const file = process.env[CONFIG_ENV];
if (!file) throw new Error(`${CONFIG_ENV} must name the gateway config file`);

// The TypeORM CLI reads the core's sections only; the bridges' sections are left to their modules.
export default createDataSource(loadConfig(file, process.env, { otherSections: 'ignore' }));
