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
    event CheckpointAnchored(uint32 indexed issuer, uint256 indexed index, uint64 treeSize, bytes32 root);

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
    /// @dev `account` may not anchor checkpoints for `issuer`: it is not the issuer's anchorer.
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
    /// @dev `kid` of `issuer` was already revoked at `revokedAt`.
    error AnchorRegistryKeyAlreadyRevoked(uint32 issuer, bytes8 kid, uint64 revokedAt);
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
    /// @dev Governance of the registry can be handed over (two steps) but never renounced.
    error AnchorRegistryRenounceDisabled();
}
