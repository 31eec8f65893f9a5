// Placeholder until this command is built (see the open issues).
import { LabError } from '../../util/lab-error.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  name: 'ca',
  help: 'mitm-lab ca: not built yet.\n',
  run() {
    return Promise.reject(new LabError('runtime', '`mitm-lab ca` is not built yet'));
  },
};
