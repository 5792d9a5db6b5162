// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAnchorRegistry} from "./IAnchorRegistry.sol";

/**
 * @title AnchorRegistry
 * @notice The issuer registry (names, status list URLs, signing keys) that verifiers build
 * their trust list from, and per-issuer checkpoints of append-only RFC 6962 Merkle logs.
 * A checkpoint is accepted only with a consistency proof from the previous one, checked
 * here, so an issuer cannot rewrite history it has anchored.
 */
contract AnchorRegistry is IAnchorRegistry, AccessControl {
    /// @notice Registers issuers and keys and appoints anchorers.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    struct IssuerRecord {
        string name;
        string statusListUrl;
        bool registered;
    }

    uint32[] private _issuerIds;
    mapping(uint32 issuer => IssuerRecord) private _issuers;
    mapping(uint32 issuer => Key[]) private _keys;
    mapping(uint32 issuer => mapping(bytes8 kid => uint256)) private _keyPosition; // index + 1; 0 = absent
    mapping(uint32 issuer => Checkpoint[]) private _checkpoints;

    /**
     * @notice Makes the deployer the first governor and the admin of the governor role.
     *
     * Requirements:
     * - none.
     */
    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(GOVERNOR_ROLE, msg.sender);
    }

    /**
     * @notice The role whose members may anchor checkpoints for `issuer`; its admin is the governor role.
     *
     * Requirements:
     * - none.
     */
    function anchorerRole(uint32 issuer) public pure returns (bytes32) {
        return keccak256(abi.encode("ANCHORER", issuer));
    }

    /**
     * @notice Registers `issuer` with a display name, the URL of its signed status list, and its anchorers.
     * @dev Emits {IssuerRegistered} and one {AnchorerAdded} per new anchorer.
     *
     * Requirements:
     * - the caller has GOVERNOR_ROLE;
     * - `issuer` is in 100000..999999 and not yet registered;
     * - no anchorer is the zero address.
     */
    function registerIssuer(
        uint32 issuer,
        string calldata name,
        string calldata statusListUrl,
        address[] calldata anchorers
    ) external onlyRole(GOVERNOR_ROLE) {
        if (issuer < 100000 || issuer > 999999) revert AnchorRegistryBadRegionCode(issuer);
        if (_issuers[issuer].registered) revert AnchorRegistryIssuerExists(issuer);
        _issuers[issuer] = IssuerRecord(name, statusListUrl, true);
        _issuerIds.push(issuer);
        _setRoleAdmin(anchorerRole(issuer), GOVERNOR_ROLE);
        emit IssuerRegistered(issuer, name, statusListUrl);
        for (uint256 i = 0; i < anchorers.length; ++i) {
            _addAnchorer(issuer, anchorers[i]);
        }
    }

    /**
     * @notice Points verifiers at a new status list URL for `issuer`.
     * @dev Emits {StatusListUrlChanged}.
     *
     * Requirements:
     * - the caller has GOVERNOR_ROLE;
     * - `issuer` is registered.
     */
    function setStatusListUrl(uint32 issuer, string calldata statusListUrl) external onlyRole(GOVERNOR_ROLE) {
        _requireIssuer(issuer);
        _issuers[issuer].statusListUrl = statusListUrl;
        emit StatusListUrlChanged(issuer, statusListUrl);
    }

    /**
     * @notice Lets `account` anchor checkpoints for `issuer`. Does nothing if it already may.
     * @dev Emits {AnchorerAdded} when `account` was not an anchorer of `issuer`.
     *
     * Requirements:
     * - the caller has GOVERNOR_ROLE;
     * - `issuer` is registered;
     * - `account` is not the zero address.
     */
    function addAnchorer(uint32 issuer, address account) external onlyRole(GOVERNOR_ROLE) {
        _requireIssuer(issuer);
        _addAnchorer(issuer, account);
    }

    /**
     * @notice Stops `account` anchoring checkpoints for `issuer`. Does nothing if it could not.
     * @dev Emits {AnchorerRemoved} when `account` was an anchorer of `issuer`.
     *
     * Requirements:
     * - the caller has GOVERNOR_ROLE;
     * - `issuer` is registered.
     */
    function removeAnchorer(uint32 issuer, address account) external onlyRole(GOVERNOR_ROLE) {
        _requireIssuer(issuer);
        if (_revokeRole(anchorerRole(issuer), account)) emit AnchorerRemoved(issuer, account);
    }

    /**
     * @notice Registers an Ed25519 public key of `issuer`, valid from `notBefore` to `notAfter` (Unix seconds).
     * @dev Emits {KeyRegistered}. The kid is recomputed with the SHA-256 precompile.
     *
     * Requirements:
     * - the caller has GOVERNOR_ROLE;
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
    ) external onlyRole(GOVERNOR_ROLE) {
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
     * - the caller has GOVERNOR_ROLE;
     * - `issuer` is registered;
     * - `kid` is registered for `issuer` and not yet revoked.
     */
    function revokeKey(uint32 issuer, bytes8 kid) external onlyRole(GOVERNOR_ROLE) {
        _requireIssuer(issuer);
        uint256 position = _keyPosition[issuer][kid];
        if (position == 0) revert AnchorRegistryUnknownKey(issuer, kid);
        Key storage key = _keys[issuer][position - 1];
        if (key.revokedAt != 0) revert AnchorRegistryKeyAlreadyRevoked(issuer, kid, key.revokedAt);
        key.revokedAt = uint64(block.timestamp);
        emit KeyRevoked(issuer, kid, key.revokedAt);
    }

    /**
     * @notice Anchors the checkpoint (`treeSize`, `root`) of `issuer`'s log. Every checkpoint after
     * the first must come with an RFC 6962 consistency proof from the last anchored one.
     * @dev Emits {CheckpointAnchored}.
     *
     * Requirements:
     * - `issuer` is registered;
     * - the caller is an anchorer of `issuer`;
     * - `treeSize` is greater than the last anchored size (or than 0 for the first checkpoint);
     * - for the first checkpoint, `consistencyProof` is empty;
     * - otherwise `consistencyProof` proves the last checkpoint's tree is a prefix of this one.
     */
    function anchor(
        uint32 issuer,
        uint64 treeSize,
        bytes32 root,
        bytes32[] calldata consistencyProof
    ) external {
        _requireIssuer(issuer);
        if (!hasRole(anchorerRole(issuer), msg.sender)) revert AnchorRegistryNotAnchorer(issuer, msg.sender);
        Checkpoint[] storage checkpoints = _checkpoints[issuer];
        uint256 index = checkpoints.length;
        if (index == 0) {
            if (treeSize == 0) revert AnchorRegistryStaleCheckpoint(issuer, 0, 0);
            if (consistencyProof.length != 0) revert AnchorRegistryUnexpectedProof(issuer);
        } else {
            Checkpoint storage last = checkpoints[index - 1];
            uint64 lastSize = last.treeSize;
            if (treeSize <= lastSize) revert AnchorRegistryStaleCheckpoint(issuer, lastSize, treeSize);
            if (!_isConsistent(lastSize, treeSize, last.root, root, consistencyProof)) {
                revert AnchorRegistryInvalidConsistencyProof(issuer, lastSize, treeSize);
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
        return _isIncluded(leafIndex, treeSize, leafHash, proof, checkpoint.root);
    }

    /**
     * @notice Every registered issuer, in registration order.
     *
     * Requirements:
     * - none.
     */
    function issuerIds() external view returns (uint32[] memory) {
        return _issuerIds;
    }

    /**
     * @notice The name and status list URL of `issuer`; `registered` is false (and the strings empty) for an unknown one.
     *
     * Requirements:
     * - none.
     */
    function getIssuer(uint32 issuer)
        external
        view
        returns (string memory name, string memory statusListUrl, bool registered)
    {
        IssuerRecord storage record = _issuers[issuer];
        return (record.name, record.statusListUrl, record.registered);
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

    function _requireIssuer(uint32 issuer) private view {
        if (!_issuers[issuer].registered) revert AnchorRegistryUnknownIssuer(issuer);
    }

    function _checkpoint(uint32 issuer, uint256 index) private view returns (Checkpoint storage) {
        _requireIssuer(issuer);
        if (index >= _checkpoints[issuer].length) revert AnchorRegistryUnknownCheckpoint(issuer, index);
        return _checkpoints[issuer][index];
    }

    function _addAnchorer(uint32 issuer, address account) private {
        if (account == address(0)) revert AnchorRegistryZeroAnchorer(issuer);
        if (_grantRole(anchorerRole(issuer), account)) emit AnchorerAdded(issuer, account);
    }

    /// @dev RFC 9162 §2.1.3.2, with the tree size taken from the caller's storage read.
    function _isIncluded(
        uint256 fn,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) private pure returns (bool) {
        uint256 sn = size - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return false;
            if ((fn & 1) == 1 || fn == sn) {
                r = _hashChildren(proof[i], r);
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = _hashChildren(r, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }

    /// @dev RFC 9162 §2.1.4.2 for 0 < `first` < `second`.
    function _isConsistent(
        uint256 first,
        uint256 second,
        bytes32 firstHash,
        bytes32 secondHash,
        bytes32[] calldata proof
    ) private pure returns (bool) {
        if (proof.length == 0) return false;
        // A power-of-two old tree is itself a subtree of the new one, so its root starts the path.
        bool prepended = (first & (first - 1)) == 0;
        uint256 next = prepended ? 0 : 1;
        bytes32 fr = prepended ? firstHash : proof[0];
        bytes32 sr = fr;
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        while ((fn & 1) == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        for (uint256 i = next; i < proof.length; ++i) {
            if (sn == 0) return false;
            if ((fn & 1) == 1 || fn == sn) {
                fr = _hashChildren(proof[i], fr);
                sr = _hashChildren(proof[i], sr);
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = _hashChildren(sr, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr == firstHash && sr == secondHash;
    }

    function _hashChildren(bytes32 left, bytes32 right) private pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }
}
