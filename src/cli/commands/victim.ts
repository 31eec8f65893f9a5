// Placeholder until this command is built (see the open issues).
import { LabError } from '../../util/lab-error.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  name: 'victim',
  help: 'mitm-lab victim: not built yet.\n',
  run() {
    return Promise.reject(new LabError('runtime', '`mitm-lab victim` is not built yet'));
  },
};
