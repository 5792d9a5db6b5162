import { subtask } from 'hardhat/config';
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from 'hardhat/builtin-tasks/task-names';
import type { HardhatUserConfig } from 'hardhat/types';
import '@nomicfoundation/hardhat-ethers';
import '@nomicfoundation/hardhat-chai-matchers';

// Pinned to the exact `solc` npm package version in package.json: Hardhat cannot
// download compilers on this network, so it compiles with the bundled soljson.js.
const SOLC_VERSION = '0.8.28';

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const compilerPath = require.resolve('solc/soljson.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- read only when Hardhat asks for the compiler
  return { compilerPath, isSolcJs: true, version: SOLC_VERSION, longVersion: require('solc/package.json').version };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'cancun' },
  },
  paths: { sources: './contracts', tests: './test/contracts', cache: './cache', artifacts: './artifacts' },
  networks: { hardhat: { chainId: 31337 } },
};

export default config;
