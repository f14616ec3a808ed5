/** asyncssh (python3-asyncssh): connect(known_hosts=<target's file>) and its SFTP client. */
import { pythonScenario, pythonVersion } from './python-script.js';
import { rejectSigAlg, type Driver, type DriverRun, type ScenarioResult } from './types.js';

export const asyncssh: Driver = {
  name: 'asyncssh',
  supportsRsaSigAlg: false,
  version: () => pythonVersion('asyncssh'),
  run(run: DriverRun): Promise<ScenarioResult> {
    rejectSigAlg(this, run);
    return pythonScenario('asyncssh', run);
  },
};
