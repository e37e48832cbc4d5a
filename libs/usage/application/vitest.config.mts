import { accessProject } from '../../../vitest.shared.mts';

export default accessProject(import.meta.url);
