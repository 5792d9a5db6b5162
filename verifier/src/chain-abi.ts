/**
 * The part of the AnchorRegistry contract (contracts/IAnchorRegistry.sol) that verifiers
 * read, as an ethers human-readable ABI. Plain strings, so nothing here pulls ethers into
 * the browser bundle; the CLI hands them to `new Contract(address, ANCHOR_REGISTRY_ABI, provider)`.
 * The custom errors are listed so that reverts decode to their names.
 */
export const ANCHOR_REGISTRY_ABI: readonly string[] = [
  'function getCheckpoint(uint32 issuer, uint256 index) view returns (tuple(uint64 treeSize, uint64 anchoredAt, bytes32 root))',
  'function checkpointCount(uint32 issuer) view returns (uint256)',
  'function verifyInclusion(uint32 issuer, uint256 checkpointIndex, uint64 leafIndex, bytes32 leafHash, bytes32[] proof) view returns (bool)',
  'function issuerIds() view returns (uint32[])',
  'function getIssuer(uint32 issuer) view returns (tuple(string name, string statusListUrl, address anchorer, uint64 registeredAt, uint64 suspendedAt))',
  'function getKeys(uint32 issuer) view returns (tuple(bytes8 kid, bytes32 publicKey, uint64 notBefore, uint64 notAfter, uint64 revokedAt)[])',
  'function getAttestation(uint32 issuer, uint256 index) view returns (bytes32 mapRoot, uint256 cosigners, uint256 threshold)',
  'event CheckpointAnchored(uint32 indexed issuer, uint256 indexed index, uint64 treeSize, bytes32 root)',
  'error AnchorRegistryUnknownIssuer(uint32 issuer)',
  'error AnchorRegistryUnknownCheckpoint(uint32 issuer, uint256 index)',
  'error AnchorRegistryNoCheckpoint(uint32 issuer)',
  'error AnchorRegistryLeafIndexOutOfRange(uint32 issuer, uint256 checkpointIndex, uint64 leafIndex, uint64 treeSize)',
];
