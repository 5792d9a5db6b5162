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
 * Each checkpoint also commits to the root of the issuer's subject heads map (FORMAT.md §13),
 * which the contract cannot check: witnesses do. A witness (another issuer's account or an
 * auditor's, registered by the governor) checks the issuer's log from its first event and cosigns
 * (treeSize, root, mapRoot) here only when no event forks a subject's chain; a checkpoint is
 * cosigned once `witnessThreshold` witnesses that still count (registered, not revoked, not
 * suspended, not the issuer's own) have cosigned it. {getAttestation} says so to verifiers.
 *
 * The owner is the governor. Every deployment makes it an {AnchorCouncil}: k of n council members
 * approve an action, which then waits out the council's timelock delay before anyone may execute
 * it, so no single key registers, revokes, suspends or appoints anything, and nothing takes effect
 * unannounced. Handing governance to another council takes two steps (the new one accepts);
 * renouncing it is disabled, since a registry nobody governs could never revoke a key again.
 */
contract AnchorRegistry is IAnchorRegistry, Ownable2Step {
    /// @notice How many witnesses can ever be registered: a witness's number is its bit in each checkpoint's cosignature bitmap.
    uint256 public constant MAX_WITNESSES = 128;

    /**
     * @dev A checkpoint as stored: what {getCheckpoint} returns, the root of the issuer's subject
     * heads map at `treeSize`, and a bitmap of the witnesses that cosigned it (bit n for witness
     * number n). Size, time and bitmap share one slot, so a cosignature rewrites a warm word.
     */
    struct StoredCheckpoint {
        uint64 treeSize;
        uint64 anchoredAt;
        uint128 cosignedBy;
        bytes32 root;
        bytes32 mapRoot;
    }

    uint32[] private _issuerIds;
    mapping(uint32 issuer => Issuer) private _issuers;
    mapping(uint32 issuer => Key[]) private _keys;
    mapping(uint32 issuer => mapping(bytes8 kid => uint256)) private _keyPosition; // index + 1; 0 = absent
    mapping(uint32 issuer => StoredCheckpoint[]) private _checkpoints;
    address[] private _witnessAccounts; // by witness number
    mapping(address account => Witness) private _witnesses;
    uint256 private _witnessesNotRevoked;
    uint256 private _witnessThreshold;

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
     * @notice Shortens the validity of key `kid` of `issuer` to end at `notAfter` (Unix seconds):
     * the issuer retired it (FORMAT.md §5), so no code it claims to sign after `notAfter` counts,
     * and verifiers building their trust list from the registry drop it one longest code lifetime
     * (FORMAT.md §4.3) later. Shortening is the safe direction — it only ever withdraws trust,
     * never grants any — so the issuer's own anchorer may do it at once, with no council approval
     * and no timelock delay, even while the issuer is suspended; the governor may too. A stolen
     * anchorer key can at worst cut its own issuer's keys short, which the council answers by
     * replacing the anchorer and registering new keys. No one can lengthen a key's validity again.
     * @dev Emits {KeyRetired}.
     *
     * Requirements:
     * - `issuer` is registered;
     * - the caller is `issuer`'s anchorer or the governor;
     * - `kid` is registered for `issuer` and not revoked;
     * - `notAfter` is earlier than the key's current `notAfter`;
     * - `notAfter` is later than the key's `notBefore`.
     */
    function retireKey(uint32 issuer, bytes8 kid, uint64 notAfter) external {
        _requireIssuer(issuer);
        if (msg.sender != _issuers[issuer].anchorer && msg.sender != owner()) revert AnchorRegistryNotAnchorer(issuer, msg.sender);
        uint256 position = _keyPosition[issuer][kid];
        if (position == 0) revert AnchorRegistryUnknownKey(issuer, kid);
        Key storage key = _keys[issuer][position - 1];
        if (key.revokedAt != 0) revert AnchorRegistryKeyAlreadyRevoked(issuer, kid, key.revokedAt);
        if (notAfter >= key.notAfter) revert AnchorRegistryKeyNotShortened(issuer, kid, key.notAfter, notAfter);
        if (notAfter <= key.notBefore) revert AnchorRegistryBadKeyWindow(key.notBefore, notAfter);
        key.notAfter = notAfter;
        emit KeyRetired(issuer, kid, notAfter);
    }

    /**
     * @notice Anchors the checkpoint (`treeSize`, `root`) of `issuer`'s log, committing to
     * `mapRoot`, the root of its subject heads map at `treeSize` (FORMAT.md §13.1), which
     * witnesses check before they cosign (the contract cannot: it does not see the events).
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
        bytes32 mapRoot,
        bytes32[] calldata consistencyProof,
        bytes32[] calldata sizeProof
    ) external {
        Issuer storage record = _issuers[issuer];
        if (record.registeredAt == 0) revert AnchorRegistryUnknownIssuer(issuer);
        if (msg.sender != record.anchorer) revert AnchorRegistryNotAnchorer(issuer, msg.sender);
        if (record.suspendedAt != 0) revert AnchorRegistryIssuerSuspended(issuer, record.suspendedAt);
        StoredCheckpoint[] storage checkpoints = _checkpoints[issuer];
        uint256 index = checkpoints.length;
        if (index == 0) {
            if (treeSize == 0) revert AnchorRegistryStaleCheckpoint(issuer, 0, 0);
            if (consistencyProof.length != 0) revert AnchorRegistryUnexpectedProof(issuer);
            if (!CheckpointProofs.bindsSize(treeSize, root, sizeProof)) {
                revert AnchorRegistryInvalidSizeProof(issuer, treeSize);
            }
        } else {
            StoredCheckpoint storage last = checkpoints[index - 1];
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
        checkpoints.push(StoredCheckpoint(treeSize, uint64(block.timestamp), 0, root, mapRoot));
        emit CheckpointAnchored(issuer, index, treeSize, root);
    }

    /**
     * @notice Registers `account` as a witness named `name`, the account of `issuer` (0 for an
     * auditor's). It may cosign checkpoints of every issuer but its own from this block on.
     * @dev Emits {WitnessRegistered}. The witness gets the next free number, its bit in every
     * checkpoint's cosignature bitmap; numbers are never reused, so a revoked witness's past
     * cosignatures can never be credited to another.
     *
     * Requirements:
     * - the caller is the governor;
     * - `account` is not the zero address and was never registered as a witness;
     * - `issuer` is 0 or a registered issuer;
     * - fewer than {MAX_WITNESSES} witnesses were ever registered.
     */
    function registerWitness(address account, uint32 issuer, string calldata name) external onlyOwner {
        if (account == address(0)) revert AnchorRegistryZeroWitness();
        if (_witnesses[account].registeredAt != 0) revert AnchorRegistryWitnessExists(account);
        if (issuer != 0) _requireIssuer(issuer);
        uint256 number = _witnessAccounts.length;
        if (number >= MAX_WITNESSES) revert AnchorRegistryTooManyWitnesses(MAX_WITNESSES);
        _witnesses[account] = Witness(name, issuer, uint8(number), uint64(block.timestamp), 0, 0);
        _witnessAccounts.push(account);
        _witnessesNotRevoked += 1;
        emit WitnessRegistered(account, issuer, uint8(number), name);
    }

    /**
     * @notice Suspends witness `account` as of this block: it cosigns nothing, and none of its
     * cosignatures count, until it is resumed.
     * @dev Emits {WitnessSuspended}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `account` is a witness, not revoked and not suspended.
     */
    function suspendWitness(address account) external onlyOwner {
        Witness storage w = _requireWitness(account);
        if (w.suspendedAt != 0) revert AnchorRegistryWitnessSuspended(account, w.suspendedAt);
        w.suspendedAt = uint64(block.timestamp);
        emit WitnessSuspended(account, w.suspendedAt);
    }

    /**
     * @notice Lifts the suspension of witness `account`: its cosignatures count again, past ones included.
     * @dev Emits {WitnessResumed}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `account` is a witness, not revoked, and suspended.
     */
    function resumeWitness(address account) external onlyOwner {
        Witness storage w = _requireWitness(account);
        if (w.suspendedAt == 0) revert AnchorRegistryWitnessNotSuspended(account);
        w.suspendedAt = 0;
        emit WitnessResumed(account, uint64(block.timestamp));
    }

    /**
     * @notice Revokes witness `account` for good (a lost key, a witness that cosigned what it
     * should not have): it cosigns nothing more and none of its cosignatures, past ones
     * included, count any longer. The threshold is left as it is, even if fewer witnesses
     * remain than it asks for: the council lowers it if it chooses.
     * @dev Emits {WitnessRevoked}.
     *
     * Requirements:
     * - the caller is the governor;
     * - `account` is a witness and not revoked.
     */
    function revokeWitness(address account) external onlyOwner {
        Witness storage w = _requireWitness(account);
        w.revokedAt = uint64(block.timestamp);
        _witnessesNotRevoked -= 1;
        emit WitnessRevoked(account, w.revokedAt);
    }

    /**
     * @notice Sets how many witnesses that count must have cosigned a checkpoint for it to be
     * cosigned. Until it is first set it is 0, and no checkpoint is cosigned.
     * @dev Emits {WitnessThresholdChanged}.
     *
     * Requirements:
     * - the caller is the governor;
     * - 1 ≤ `threshold` ≤ the number of witnesses registered and not revoked.
     */
    function setWitnessThreshold(uint256 threshold) external onlyOwner {
        if (threshold == 0 || threshold > _witnessesNotRevoked) {
            revert AnchorRegistryBadWitnessThreshold(threshold, _witnessesNotRevoked);
        }
        emit WitnessThresholdChanged(_witnessThreshold, threshold);
        _witnessThreshold = threshold;
    }

    /**
     * @notice Cosigns checkpoint `index` of `issuer` as the caller, a witness that has checked
     * the issuer's log from its first event up to `treeSize` (FORMAT.md §13.3) and found that
     * its RFC 6962 root is `root` and its subject heads map root `mapRoot`.
     * @dev Emits {CheckpointCosigned}. A suspended issuer's checkpoints can still be cosigned:
     * they stay readable and their proofs verifiable.
     *
     * Requirements:
     * - `issuer` is registered and has a checkpoint number `index`;
     * - the caller is a witness, not revoked;
     * - the witness is not suspended, and neither is the issuer whose account it is;
     * - the caller is not `issuer`'s anchorer, nor a witness of `issuer`'s own;
     * - (`treeSize`, `root`, `mapRoot`) is what the checkpoint holds;
     * - the caller has not cosigned this checkpoint yet.
     */
    function cosign(uint32 issuer, uint256 index, uint64 treeSize, bytes32 root, bytes32 mapRoot) external {
        StoredCheckpoint storage checkpoint = _checkpoint(issuer, index);
        Witness storage w = _witnesses[msg.sender];
        if (w.registeredAt == 0 || w.revokedAt != 0) revert AnchorRegistryNotWitness(msg.sender);
        uint64 suspendedAt = _suspension(w);
        if (suspendedAt != 0) revert AnchorRegistryWitnessSuspended(msg.sender, suspendedAt);
        if (w.issuer == issuer || msg.sender == _issuers[issuer].anchorer) revert AnchorRegistrySelfWitness(issuer, msg.sender);
        if (checkpoint.treeSize != treeSize || checkpoint.root != root || checkpoint.mapRoot != mapRoot) {
            revert AnchorRegistryStatementMismatch(issuer, index);
        }
        uint128 bit = uint128(1) << w.number;
        if (checkpoint.cosignedBy & bit != 0) revert AnchorRegistryAlreadyCosigned(issuer, index, msg.sender);
        checkpoint.cosignedBy |= bit;
        emit CheckpointCosigned(issuer, index, msg.sender);
    }

    /**
     * @notice What the chain holds of checkpoint `index` of `issuer` beyond its size and root:
     * the map root it was anchored with, how many of the witnesses that cosigned it count now
     * (registered, not revoked, not suspended, not the issuer's own), and the threshold. The
     * checkpoint is cosigned when `threshold ≥ 1` and `cosigners ≥ threshold`.
     *
     * Requirements:
     * - `issuer` is registered and has a checkpoint number `index`.
     */
    function getAttestation(
        uint32 issuer,
        uint256 index
    ) external view returns (bytes32 mapRoot, uint256 cosigners, uint256 threshold) {
        StoredCheckpoint storage checkpoint = _checkpoint(issuer, index);
        address anchorer = _issuers[issuer].anchorer;
        uint128 bits = checkpoint.cosignedBy;
        for (uint256 n = 0; bits != 0; n++) {
            if (bits & 1 != 0) {
                address account = _witnessAccounts[n];
                Witness storage w = _witnesses[account];
                if (w.revokedAt == 0 && _suspension(w) == 0 && w.issuer != issuer && account != anchorer) cosigners += 1;
            }
            bits >>= 1;
        }
        return (checkpoint.mapRoot, cosigners, _witnessThreshold);
    }

    /**
     * @notice Every witness that cosigned checkpoint `index` of `issuer`, by witness number,
     * whether or not it still counts ({getAttestation} counts those that do).
     *
     * Requirements:
     * - `issuer` is registered and has a checkpoint number `index`.
     */
    function getCosigners(uint32 issuer, uint256 index) external view returns (address[] memory accounts) {
        uint128 bits = _checkpoint(issuer, index).cosignedBy;
        uint256 count = 0;
        for (uint128 b = bits; b != 0; b &= b - 1) count += 1;
        accounts = new address[](count);
        uint256 at = 0;
        for (uint256 n = 0; bits != 0; n++) {
            if (bits & 1 != 0) accounts[at++] = _witnessAccounts[n];
            bits >>= 1;
        }
    }

    /**
     * @notice Every account ever registered as a witness, by witness number, revoked ones included.
     *
     * Requirements:
     * - none.
     */
    function witnessAccounts() external view returns (address[] memory) {
        return _witnessAccounts;
    }

    /**
     * @notice Witness `account`'s record; all zeros (`registeredAt` 0) for an account that is not one.
     *
     * Requirements:
     * - none.
     */
    function getWitness(address account) external view returns (Witness memory) {
        return _witnesses[account];
    }

    /**
     * @notice How many witnesses that count must cosign a checkpoint for it to be cosigned (0: none set yet, so none is).
     *
     * Requirements:
     * - none.
     */
    function witnessThreshold() external view returns (uint256) {
        return _witnessThreshold;
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
        StoredCheckpoint storage checkpoint = _checkpoint(issuer, checkpointIndex);
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
        return _public(_checkpoint(issuer, index));
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
        return _public(_checkpoints[issuer][count - 1]);
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

    function _requireWitness(address account) private view returns (Witness storage w) {
        w = _witnesses[account];
        if (w.registeredAt == 0 || w.revokedAt != 0) revert AnchorRegistryNotWitness(account);
    }

    /// @dev Since when the witness is suspended, by the council or through its issuer; 0 if it is not.
    function _suspension(Witness storage w) private view returns (uint64) {
        if (w.suspendedAt != 0) return w.suspendedAt;
        return w.issuer == 0 ? 0 : _issuers[w.issuer].suspendedAt;
    }

    function _public(StoredCheckpoint storage c) private view returns (Checkpoint memory) {
        return Checkpoint(c.treeSize, c.anchoredAt, c.root);
    }

    function _checkpoint(uint32 issuer, uint256 index) private view returns (StoredCheckpoint storage) {
        _requireIssuer(issuer);
        if (index >= _checkpoints[issuer].length) revert AnchorRegistryUnknownCheckpoint(issuer, index);
        return _checkpoints[issuer][index];
    }
}
