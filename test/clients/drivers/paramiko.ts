/** paramiko (python3-paramiko): SSHClient with the target's known_hosts and RejectPolicy. */
import { pythonScenario, pythonVersion } from './python-script.js';
import type { Driver, DriverRun, ScenarioResult } from './types.js';

export const paramiko: Driver = {
  name: 'paramiko',
  supportsRsaSigAlg: true, // through disabled_algorithms={'pubkeys': [the other two]}
  version: () => pythonVersion('paramiko'),
  run: (run: DriverRun): Promise<ScenarioResult> => pythonScenario('paramiko', run),
};
