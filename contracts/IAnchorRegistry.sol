// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/**
 * @title Types, events and custom errors of the AnchorRegistry.
 * @notice Issuers are identified by their GB/T 2260 region code (100000..999999).
 * Only 32-byte roots and public keys go on chain; never personal data.
 */
interface IAnchorRegistry {
    /// @notice An Ed25519 signing key of an issuer; `revokedAt` is 0 while the key is not revoked.
    struct Key {
        bytes8 kid;
        bytes32 publicKey;
        uint64 notBefore;
        uint64 notAfter;
        uint64 revokedAt;
    }

    /// @notice A signed-off state of an issuer's RFC 6962 log: its size, its root and when it was anchored.
    struct Checkpoint {
        uint64 treeSize;
        uint64 anchoredAt;
        bytes32 root;
    }

    /**
     * @notice A witness: an account that checks issuers' logs from their first event and cosigns
     * their checkpoints (FORMAT.md §13.3). `issuer` is the issuer whose account it is (0 for an
     * auditor's); `number` is its bit in each checkpoint's cosignature bitmap, never reused;
     * `registeredAt` is 0 for an account that is not a witness, `suspendedAt` and `revokedAt`
     * are 0 while it is not suspended or revoked.
     */
    struct Witness {
        string name;
        uint32 issuer;
        uint8 number;
        uint64 registeredAt;
        uint64 suspendedAt;
        uint64 revokedAt;
    }

    /**
     * @notice A registered issuer: its display name, the URL of its signed status list, the one
     * account that anchors its checkpoints, when it was registered and, while it is suspended,
     * since when (0 otherwise). An unknown issuer reads as all zeros.
     */
    struct Issuer {
        string name;
        string statusListUrl;
        address anchorer;
        uint64 registeredAt;
        uint64 suspendedAt;
    }

    event IssuerRegistered(uint32 indexed issuer, string name, string statusListUrl, address indexed anchorer);
    event StatusListUrlChanged(uint32 indexed issuer, string statusListUrl);
    event AnchorerChanged(uint32 indexed issuer, address indexed previousAnchorer, address indexed newAnchorer);
    event IssuerSuspended(uint32 indexed issuer, uint64 suspendedAt);
    event IssuerResumed(uint32 indexed issuer, uint64 resumedAt);
    event KeyRegistered(uint32 indexed issuer, bytes8 indexed kid, bytes32 publicKey, uint64 notBefore, uint64 notAfter);
    event KeyRevoked(uint32 indexed issuer, bytes8 indexed kid, uint64 revokedAt);
    /// @notice Key `kid` of `issuer` was retired: it is valid only for codes issued up to `notAfter`, its new end.
    event KeyRetired(uint32 indexed issuer, bytes8 indexed kid, uint64 notAfter);
    event CheckpointAnchored(uint32 indexed issuer, uint256 indexed index, uint64 treeSize, bytes32 root);
    event WitnessRegistered(address indexed account, uint32 indexed issuer, uint8 number, string name);
    event WitnessSuspended(address indexed account, uint64 suspendedAt);
    event WitnessResumed(address indexed account, uint64 resumedAt);
    event WitnessRevoked(address indexed account, uint64 revokedAt);
    event WitnessThresholdChanged(uint256 previousThreshold, uint256 newThreshold);
    event CheckpointCosigned(uint32 indexed issuer, uint256 indexed index, address indexed witness);

    /// @dev `issuer` is not a six-digit GB/T 2260 region code.
    error AnchorRegistryBadRegionCode(uint32 issuer);
    /// @dev `issuer` is already registered.
    error AnchorRegistryIssuerExists(uint32 issuer);
    /// @dev `issuer` is not registered.
    error AnchorRegistryUnknownIssuer(uint32 issuer);
    /// @dev The zero address cannot be an anchorer.
    error AnchorRegistryZeroAnchorer(uint32 issuer);
    /// @dev `account` is already the anchorer of `issuer`.
    error AnchorRegistryAnchorerUnchanged(uint32 issuer, address account);
    /// @dev `account` may not anchor checkpoints for `issuer`, nor retire its keys: it is not the issuer's anchorer (nor, for a retirement, the governor).
    error AnchorRegistryNotAnchorer(uint32 issuer, address account);
    /// @dev `issuer` has been suspended since `suspendedAt`: it anchors nothing until it is resumed.
    error AnchorRegistryIssuerSuspended(uint32 issuer, uint64 suspendedAt);
    /// @dev `issuer` is not suspended, so it cannot be resumed.
    error AnchorRegistryIssuerNotSuspended(uint32 issuer);
    /// @dev `kid` is not the first 8 bytes of SHA-256 of the public key, which is `expectedKid`.
    error AnchorRegistryKidMismatch(bytes8 kid, bytes8 expectedKid);
    /// @dev A key must be valid for a non-empty window: `notBefore < notAfter`.
    error AnchorRegistryBadKeyWindow(uint64 notBefore, uint64 notAfter);
    /// @dev `kid` is already registered for `issuer` (revoked kids are never reused).
    error AnchorRegistryKeyExists(uint32 issuer, bytes8 kid);
    /// @dev `kid` is not registered for `issuer`.
    error AnchorRegistryUnknownKey(uint32 issuer, bytes8 kid);
    /// @dev `kid` of `issuer` was already revoked at `revokedAt` (and a revoked key is not retired either: no code of it counts).
    error AnchorRegistryKeyAlreadyRevoked(uint32 issuer, bytes8 kid, uint64 revokedAt);
    /// @dev A retirement only ever shortens a key's validity: `notAfter` must be earlier than the key's `currentNotAfter`.
    error AnchorRegistryKeyNotShortened(uint32 issuer, bytes8 kid, uint64 currentNotAfter, uint64 notAfter);
    /// @dev A checkpoint must grow the log: `newSize` must exceed `lastSize` (0 before the first checkpoint).
    error AnchorRegistryStaleCheckpoint(uint32 issuer, uint64 lastSize, uint64 newSize);
    /// @dev The first checkpoint of an issuer has nothing to be consistent with, so it takes no consistency proof.
    error AnchorRegistryUnexpectedProof(uint32 issuer);
    /// @dev The proof does not show the new tree extends the last anchored one (RFC 9162 §2.1.4.2).
    error AnchorRegistryInvalidConsistencyProof(uint32 issuer, uint64 lastSize, uint64 newSize);
    /// @dev The size proof does not show that the root is that of a tree of `treeSize` leaves.
    error AnchorRegistryInvalidSizeProof(uint32 issuer, uint64 treeSize);
    /// @dev `issuer` has no checkpoint number `index`.
    error AnchorRegistryUnknownCheckpoint(uint32 issuer, uint256 index);
    /// @dev `issuer` has not anchored any checkpoint yet.
    error AnchorRegistryNoCheckpoint(uint32 issuer);
    /// @dev `leafIndex` is not below the size of the checkpointed tree.
    error AnchorRegistryLeafIndexOutOfRange(uint32 issuer, uint256 checkpointIndex, uint64 leafIndex, uint64 treeSize);
    /// @dev The zero address cannot be a witness.
    error AnchorRegistryZeroWitness();
    /// @dev `account` is, or was, a witness: an account is registered as a witness once, and a revoked one never again.
    error AnchorRegistryWitnessExists(address account);
    /// @dev Every one of the `limit` witness numbers is taken (numbers are never reused).
    error AnchorRegistryTooManyWitnesses(uint256 limit);
    /// @dev `account` is not a registered witness, or its registration was revoked.
    error AnchorRegistryNotWitness(address account);
    /// @dev Witness `account` is suspended since `suspendedAt` (itself, or the issuer whose account it is).
    error AnchorRegistryWitnessSuspended(address account, uint64 suspendedAt);
    /// @dev Witness `account` is not suspended, so it cannot be resumed.
    error AnchorRegistryWitnessNotSuspended(address account);
    /// @dev `account` may not witness `issuer`: it is the issuer's anchorer, or a witness of the issuer's own.
    error AnchorRegistrySelfWitness(uint32 issuer, address account);
    /// @dev (`treeSize`, `root`, `mapRoot`) is not what checkpoint `index` of `issuer` holds.
    error AnchorRegistryStatementMismatch(uint32 issuer, uint256 index);
    /// @dev Witness `account` already cosigned checkpoint `index` of `issuer`.
    error AnchorRegistryAlreadyCosigned(uint32 issuer, uint256 index, address account);
    /// @dev The witness threshold must be at least 1 and at most the `witnesses` registered and not revoked.
    error AnchorRegistryBadWitnessThreshold(uint256 threshold, uint256 witnesses);
    /// @dev Governance of the registry can be handed over (two steps) but never renounced.
    error AnchorRegistryRenounceDisabled();
}
