// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IAnchorRegistry} from "./IAnchorRegistry.sol";
import {CheckpointProofs} from "./CheckpointProofs.sol";

/**
 * @title AnchorRegistry
 * @notice The issuer registry (names, status list URLs, anchorers, signing keys, suspensions) that
 * verifiers build their trust list from, and per-issuer checkpoints of append-only RFC 6962 Merkle
 * logs. A checkpoint is accepted only from the issuer's anchorer, only with a size proof that binds
 * its root to its tree size and, after the first, only with a consistency proof from the previous
 * one, all checked here: an issuer can neither rewrite history it has anchored nor claim a size
 * its root was not built for.
 *
 * The owner is the governor. Every deployment makes it an {AnchorCouncil}: k of n council members
 * approve an action, which then waits out the council's timelock delay before anyone may execute
 * it, so no single key registers, revokes, suspends or appoints anything, and nothing takes effect
 * unannounced. Handing governance to another council takes two steps (the new one accepts);
 * renouncing it is disabled, since a registry nobody governs could never revoke a key again.
 */
contract AnchorRegistry is IAnchorRegistry, Ownable2Step {
    uint32[] private _issuerIds;
    mapping(uint32 issuer => Issuer) private _issuers;
    mapping(uint32 issuer => Key[]) private _keys;
    mapping(uint32 issuer => mapping(bytes8 kid => uint256)) private _keyPosition; // index + 1; 0 = absent
    mapping(uint32 issuer => Checkpoint[]) private _checkpoints;

    /**
     * @notice Makes `governor` (in every deployment an {AnchorCouncil}) the governor.
     *
     * Requirements:
     * - `governor` is not the zero address.
     */
    constructor(address governor) Ownable(governor) {}

    /**
     * @notice Registers `issuer` with a display name, the URL of its signed status list, and the
     * one account that anchors its checkpoints, from the first on.
     * @dev Emits {IssuerRegistered}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `issuer` is in 100000..999999 and not yet registered;
     * - `anchorer` is not the zero address.
     */
    function registerIssuer(
        uint32 issuer,
        string calldata name,
        string calldata statusListUrl,
        address anchorer
    ) external onlyOwner {
        if (issuer < 100000 || issuer > 999999) revert AnchorRegistryBadRegionCode(issuer);
        if (_issuers[issuer].registeredAt != 0) revert AnchorRegistryIssuerExists(issuer);
        if (anchorer == address(0)) revert AnchorRegistryZeroAnchorer(issuer);
        _issuers[issuer] = Issuer(name, statusListUrl, anchorer, uint64(block.timestamp), 0);
        _issuerIds.push(issuer);
        emit IssuerRegistered(issuer, name, statusListUrl, anchorer);
    }

    /**
     * @notice Points verifiers at a new status list URL for `issuer`.
     * @dev Emits {StatusListUrlChanged}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `issuer` is registered.
     */
    function setStatusListUrl(uint32 issuer, string calldata statusListUrl) external onlyOwner {
        _requireIssuer(issuer);
        _issuers[issuer].statusListUrl = statusListUrl;
        emit StatusListUrlChanged(issuer, statusListUrl);
    }

    /**
     * @notice Replaces the anchorer of `issuer` with `anchorer` (a lost or rotated anchorer key):
     * from this block on only `anchorer` anchors, and the previous one is refused.
     * @dev Emits {AnchorerChanged}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `issuer` is registered;
     * - `anchorer` is not the zero address and not already the anchorer.
     */
    function setAnchorer(uint32 issuer, address anchorer) external onlyOwner {
        _requireIssuer(issuer);
        if (anchorer == address(0)) revert AnchorRegistryZeroAnchorer(issuer);
        address previous = _issuers[issuer].anchorer;
        if (anchorer == previous) revert AnchorRegistryAnchorerUnchanged(issuer, anchorer);
        _issuers[issuer].anchorer = anchorer;
        emit AnchorerChanged(issuer, previous, anchorer);
    }

    /**
     * @notice Suspends `issuer` as of this block: its checkpoints are refused until it is resumed,
     * and verifiers reading the registry distrust its keys (FORMAT.md §11). Its past checkpoints,
     * keys and inclusion proofs stay readable.
     * @dev Emits {IssuerSuspended}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `issuer` is registered and not suspended.
     */
    function suspendIssuer(uint32 issuer) external onlyOwner {
        _requireIssuer(issuer);
        Issuer storage record = _issuers[issuer];
        if (record.suspendedAt != 0) revert AnchorRegistryIssuerSuspended(issuer, record.suspendedAt);
        record.suspendedAt = uint64(block.timestamp);
        emit IssuerSuspended(issuer, record.suspendedAt);
    }

    /**
     * @notice Lifts the suspension of `issuer`: it anchors again, from its last checkpoint on.
     * @dev Emits {IssuerResumed}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `issuer` is registered and suspended.
     */
    function resumeIssuer(uint32 issuer) external onlyOwner {
        _requireIssuer(issuer);
        Issuer storage record = _issuers[issuer];
        if (record.suspendedAt == 0) revert AnchorRegistryIssuerNotSuspended(issuer);
        record.suspendedAt = 0;
        emit IssuerResumed(issuer, uint64(block.timestamp));
    }

    /**
     * @notice Registers an Ed25519 public key of `issuer`, valid from `notBefore` to `notAfter` (Unix seconds).
     * @dev Emits {KeyRegistered}. The kid is recomputed with the SHA-256 precompile.
     *
     * Requirements:
     * - the caller is the governor;
     * - `issuer` is registered;
     * - `kid` is the first 8 bytes of SHA-256(`publicKey`);
     * - `notBefore < notAfter`;
     * - `kid` was never registered for `issuer`, even if since revoked.
     */
    function registerKey(
        uint32 issuer,
        bytes8 kid,
        bytes32 publicKey,
        uint64 notBefore,
        uint64 notAfter
    ) external onlyOwner {
        _requireIssuer(issuer);
        bytes8 expectedKid = bytes8(sha256(abi.encodePacked(publicKey)));
        if (kid != expectedKid) revert AnchorRegistryKidMismatch(kid, expectedKid);
        if (notBefore >= notAfter) revert AnchorRegistryBadKeyWindow(notBefore, notAfter);
        if (_keyPosition[issuer][kid] != 0) revert AnchorRegistryKeyExists(issuer, kid);
        _keys[issuer].push(Key(kid, publicKey, notBefore, notAfter, 0));
        _keyPosition[issuer][kid] = _keys[issuer].length;
        emit KeyRegistered(issuer, kid, publicKey, notBefore, notAfter);
    }

    /**
     * @notice Revokes key `kid` of `issuer` as of this block; the key stays listed with its `revokedAt`.
     * @dev Emits {KeyRevoked}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `issuer` is registered;
     * - `kid` is registered for `issuer` and not yet revoked.
     */
    function revokeKey(uint32 issuer, bytes8 kid) external onlyOwner {
        _requireIssuer(issuer);
        uint256 position = _keyPosition[issuer][kid];
        if (position == 0) revert AnchorRegistryUnknownKey(issuer, kid);
        Key storage key = _keys[issuer][position - 1];
        if (key.revokedAt != 0) revert AnchorRegistryKeyAlreadyRevoked(issuer, kid, key.revokedAt);
        key.revokedAt = uint64(block.timestamp);
        emit KeyRevoked(issuer, kid, key.revokedAt);
    }

    /**
     * @notice Anchors the checkpoint (`treeSize`, `root`) of `issuer`'s log.
     * @dev Emits {CheckpointAnchored}. `sizeProof` is laid out as FORMAT.md §11.4 describes: the
     * data of the last leaf, then for each set bit b of `treeSize − 1` below the level where the
     * paths to the previous and the new last leaf part (every set bit, for the first checkpoint),
     * lowest first, the data of the leftmost leaf of that perfect subtree and the b right children
     * on its left edge. Leaf data is hashed here (SHA-256(0x00 ‖ data)), never taken as a hash.
     *
     * Requirements:
     * - `issuer` is registered and the caller is its anchorer;
     * - `issuer` is not suspended;
     * - `treeSize` is greater than the last anchored size (or than 0 for the first checkpoint);
     * - for the first checkpoint, `consistencyProof` is empty; otherwise it proves that the last
     *   checkpoint's tree is a prefix of this one (RFC 9162 §2.1.4.2);
     * - `sizeProof` proves that `root` is the root of a tree of exactly `treeSize` leaves.
     */
    function anchor(
        uint32 issuer,
        uint64 treeSize,
        bytes32 root,
        bytes32[] calldata consistencyProof,
        bytes32[] calldata sizeProof
    ) external {
        Issuer storage record = _issuers[issuer];
        if (record.registeredAt == 0) revert AnchorRegistryUnknownIssuer(issuer);
        if (msg.sender != record.anchorer) revert AnchorRegistryNotAnchorer(issuer, msg.sender);
        if (record.suspendedAt != 0) revert AnchorRegistryIssuerSuspended(issuer, record.suspendedAt);
        Checkpoint[] storage checkpoints = _checkpoints[issuer];
        uint256 index = checkpoints.length;
        if (index == 0) {
            if (treeSize == 0) revert AnchorRegistryStaleCheckpoint(issuer, 0, 0);
            if (consistencyProof.length != 0) revert AnchorRegistryUnexpectedProof(issuer);
            if (!CheckpointProofs.bindsSize(treeSize, root, sizeProof)) {
                revert AnchorRegistryInvalidSizeProof(issuer, treeSize);
            }
        } else {
            Checkpoint storage last = checkpoints[index - 1];
            uint64 lastSize = last.treeSize;
            if (treeSize <= lastSize) revert AnchorRegistryStaleCheckpoint(issuer, lastSize, treeSize);
            CheckpointProofs.Extension outcome = CheckpointProofs.checkExtension(
                lastSize,
                treeSize,
                last.root,
                root,
                consistencyProof,
                sizeProof
            );
            if (outcome == CheckpointProofs.Extension.InvalidConsistencyProof) {
                revert AnchorRegistryInvalidConsistencyProof(issuer, lastSize, treeSize);
            }
            if (outcome == CheckpointProofs.Extension.InvalidSizeProof) {
                revert AnchorRegistryInvalidSizeProof(issuer, treeSize);
            }
        }
        checkpoints.push(Checkpoint(treeSize, uint64(block.timestamp), root));
        emit CheckpointAnchored(issuer, index, treeSize, root);
    }

    /**
     * @notice Whether `proof` is an RFC 6962 inclusion proof of `leafHash` at `leafIndex` in the tree
     * of checkpoint `checkpointIndex`, whose size and root are read from storage.
     * @return True if the proof leads to the stored root; false for any wrong proof.
     *
     * Requirements:
     * - `issuer` is registered and has a checkpoint number `checkpointIndex`;
     * - `leafIndex` is below that checkpoint's tree size.
     */
    function verifyInclusion(
        uint32 issuer,
        uint256 checkpointIndex,
        uint64 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        Checkpoint storage checkpoint = _checkpoint(issuer, checkpointIndex);
        uint64 treeSize = checkpoint.treeSize;
        if (leafIndex >= treeSize) {
            revert AnchorRegistryLeafIndexOutOfRange(issuer, checkpointIndex, leafIndex, treeSize);
        }
        return CheckpointProofs.isIncluded(leafIndex, treeSize, leafHash, proof, checkpoint.root);
    }

    /**
     * @notice Every registered issuer, in registration order, suspended ones included.
     *
     * Requirements:
     * - none.
     */
    function issuerIds() external view returns (uint32[] memory) {
        return _issuerIds;
    }

    /**
     * @notice `issuer`'s record; all zeros (and `registeredAt` 0) for an unknown one.
     *
     * Requirements:
     * - none.
     */
    function getIssuer(uint32 issuer) external view returns (Issuer memory) {
        return _issuers[issuer];
    }

    /**
     * @notice Every key ever registered for `issuer`, in registration order, revoked ones included.
     *
     * Requirements:
     * - `issuer` is registered.
     */
    function getKeys(uint32 issuer) external view returns (Key[] memory) {
        _requireIssuer(issuer);
        return _keys[issuer];
    }

    /**
     * @notice How many checkpoints `issuer` has anchored.
     *
     * Requirements:
     * - `issuer` is registered.
     */
    function checkpointCount(uint32 issuer) external view returns (uint256) {
        _requireIssuer(issuer);
        return _checkpoints[issuer].length;
    }

    /**
     * @notice Checkpoint number `index` of `issuer`, counting from 0.
     *
     * Requirements:
     * - `issuer` is registered and has a checkpoint number `index`.
     */
    function getCheckpoint(uint32 issuer, uint256 index) external view returns (Checkpoint memory) {
        return _checkpoint(issuer, index);
    }

    /**
     * @notice The most recent checkpoint of `issuer`.
     *
     * Requirements:
     * - `issuer` is registered and has anchored at least one checkpoint.
     */
    function latestCheckpoint(uint32 issuer) external view returns (Checkpoint memory) {
        _requireIssuer(issuer);
        uint256 count = _checkpoints[issuer].length;
        if (count == 0) revert AnchorRegistryNoCheckpoint(issuer);
        return _checkpoints[issuer][count - 1];
    }

    /**
     * @notice Always reverts: governance can be handed over ({transferOwnership}, then
     * {acceptOwnership} by the new governor) but never given up.
     *
     * Requirements:
     * - the caller is the governor (anyone else gets OwnableUnauthorizedAccount).
     */
    function renounceOwnership() public view override onlyOwner {
        revert AnchorRegistryRenounceDisabled();
    }

    function _requireIssuer(uint32 issuer) private view {
        if (_issuers[issuer].registeredAt == 0) revert AnchorRegistryUnknownIssuer(issuer);
    }

    function _checkpoint(uint32 issuer, uint256 index) private view returns (Checkpoint storage) {
        _requireIssuer(issuer);
        if (index >= _checkpoints[issuer].length) revert AnchorRegistryUnknownCheckpoint(issuer, index);
        return _checkpoints[issuer][index];
    }
}
