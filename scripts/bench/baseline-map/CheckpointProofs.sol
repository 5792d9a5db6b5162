// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/**
 * @title RFC 6962 proofs of checkpoints (verifier/FORMAT.md §11.4)
 * @notice Inclusion proofs (RFC 9162 §2.1.3.2), consistency proofs (RFC 9162 §2.1.4.2) and the
 * size proofs that bind a root to its tree size, all with RFC 6962's domain-separated hashes:
 * a leaf is SHA-256(0x00 ‖ data), an interior node SHA-256(0x01 ‖ left ‖ right).
 *
 * Why a size proof. Neither proof of RFC 9162 binds a root to a size: their sibling hashes are
 * taken on trust, so an interior node can stand in for a subtree of another height. With the
 * root of 3 leaves, [hash(0, 1)] is a valid inclusion proof of leaf 2 at index 4 of a tree of 5
 * (and 6 → 7, 4 → 7 … behave alike for consistency proofs). What pins the size is the shape of
 * the tree's right edge: size − 1 in binary lists, from the top, the heights of the perfect
 * subtrees hanging left of the path to the last leaf. A size proof walks that path from the last
 * leaf's data, and proves each of those subtrees' height by walking down its left edge to a leaf's
 * data. Leaves are hashed here, from their data, so no interior node can pass for a leaf: a
 * different height anywhere would need 0x00- and 0x01-prefixed inputs with the same SHA-256.
 * Subtrees that the previous checkpoint's root already pins (checked through the consistency
 * proof) are not proven again, so the proof covers only the new part of the log.
 */
library CheckpointProofs {
    /// @notice The outcome of checking a checkpoint that extends an earlier one.
    enum Extension {
        Valid,
        InvalidConsistencyProof,
        InvalidSizeProof
    }

    /// @dev The state of a consistency proof walk: fr and sr as in RFC 9162 §2.1.4.2, lr the new root again along the path to the new tree's last leaf.
    struct Walk {
        uint256 fn;
        uint256 sn;
        uint256 at;
        bytes32 fr;
        bytes32 sr;
        bytes32 lr;
        bool complete;
    }

    /**
     * @notice Whether `sizeProof` shows that `root` is the root of a tree of exactly `treeSize`
     * leaves, with no earlier checkpoint to lean on (an issuer's first).
     *
     * Requirements:
     * - `treeSize` > 0.
     */
    function bindsSize(uint256 treeSize, bytes32 root, bytes32[] calldata sizeProof) internal view returns (bool) {
        uint256 last = treeSize - 1;
        (bytes32 computed, bool complete) = _rightEdge(last, _bitLength(last), sizeProof);
        return complete && computed == root;
    }

    /**
     * @notice Checks that the tree of `newSize` leaves with `newRoot` extends the tree of `oldSize`
     * leaves with `oldRoot` (RFC 9162 §2.1.4.2) and that `sizeProof` binds `newRoot` to `newSize`,
     * given that `oldRoot` is bound to `oldSize`.
     * @dev The two proofs meet at `level`, the highest bit where `oldSize − 1` and `newSize − 1`
     * differ: above it both trees share the path to their last leaf, whose left siblings are old
     * subtrees the consistency proof takes from `oldRoot`; at it sits the subtree holding the old
     * tree's last leaf, which the consistency proof computes; below it lie new subtrees only,
     * whose heights the size proof proves.
     *
     * Requirements:
     * - 0 < `oldSize` < `newSize`.
     */
    function checkExtension(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] calldata consistencyProof,
        bytes32[] calldata sizeProof
    ) internal view returns (Extension) {
        uint256 level = _bitLength((oldSize - 1) ^ (newSize - 1)) - 1;
        (bytes32 low, bool complete) = _rightEdge(newSize - 1, level, sizeProof);
        if (!complete) return Extension.InvalidSizeProof;
        if (consistencyProof.length == 0) return Extension.InvalidConsistencyProof;
        Walk memory w = _walk(oldSize, newSize, oldRoot, level, low, consistencyProof);
        if (!w.complete || w.fr != oldRoot || w.sr != newRoot) return Extension.InvalidConsistencyProof;
        return w.lr == newRoot ? Extension.Valid : Extension.InvalidSizeProof;
    }

    /**
     * @notice Whether `proof` is an RFC 6962 inclusion proof of `leafHash` at `index` in a tree of
     * `treeSize` leaves with root `root` (RFC 9162 §2.1.3.2).
     *
     * Requirements:
     * - `index` < `treeSize`.
     */
    function isIncluded(
        uint256 index,
        uint256 treeSize,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) internal view returns (bool) {
        uint256 fn = index;
        uint256 sn = treeSize - 1;
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

    /**
     * @dev RFC 9162 §2.1.4.2 for 0 < `oldSize` < `newSize`, computing besides fr and sr the new
     * root along the path to the new tree's last leaf: at `level` it joins the subtree holding the
     * old tree's last leaf (sr there) with `low`, the part of the new tree right of it, and above
     * `level` it takes the same left siblings as fr and sr, since both paths coincide there.
     * `complete` is false when the proof runs out before the root or goes past it.
     */
    function _walk(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        uint256 level,
        bytes32 low,
        bytes32[] calldata proof
    ) private view returns (Walk memory w) {
        w.fn = oldSize - 1;
        w.sn = newSize - 1;
        // A power-of-two old tree is itself a subtree of the new one, so its root starts the path.
        bool prepended = (oldSize & w.fn) == 0;
        w.fr = prepended ? oldRoot : proof[0];
        w.sr = w.fr;
        while ((w.fn & 1) == 1) {
            w.fn >>= 1;
            w.sn >>= 1;
            ++w.at;
        }
        if (w.at == level) w.lr = _hashChildren(w.sr, low);
        for (uint256 i = prepended ? 0 : 1; i < proof.length; ++i) {
            if (w.sn == 0) return w;
            bytes32 c = proof[i];
            if ((w.fn & 1) == 1 || w.fn == w.sn) {
                w.fr = _hashChildren(c, w.fr);
                w.sr = _hashChildren(c, w.sr);
                if (w.at > level) w.lr = _hashChildren(c, w.lr);
                // Levels are skipped only above `level`, where fn == sn: below it fn is odd here.
                while ((w.fn & 1) == 0 && w.fn != 0) {
                    w.fn >>= 1;
                    w.sn >>= 1;
                    ++w.at;
                }
            } else {
                w.sr = _hashChildren(w.sr, c);
            }
            w.fn >>= 1;
            w.sn >>= 1;
            ++w.at;
            if (w.at == level) w.lr = _hashChildren(w.sr, low);
        }
        w.complete = w.sn == 0;
    }

    /**
     * @dev The root of the part of the tree right of `level` on the path to leaf `last`: the last
     * leaf, hashed from its data (proof[0]), joined with each perfect subtree for a set bit b of
     * `last` below `level`, lowest first, each rebuilt from the data of its leftmost leaf and the b
     * right children on its left edge. False when the proof's length is not exactly that.
     */
    function _rightEdge(uint256 last, uint256 level, bytes32[] calldata proof) private view returns (bytes32 r, bool) {
        if (proof.length != _rightEdgeLength(last, level)) return (bytes32(0), false);
        r = _hashLeaf(proof[0]);
        // The length was checked above, so no index below runs past the proof.
        unchecked {
            uint256 i = 1;
            for (uint256 b = 0; b < level; ++b) {
                if ((last >> b) & 1 == 0) continue;
                bytes32 node = _hashLeaf(proof[i++]);
                for (uint256 j = 0; j < b; ++j) node = _hashChildren(node, proof[i++]);
                r = _hashChildren(node, r);
            }
        }
        return (r, true);
    }

    function _rightEdgeLength(uint256 last, uint256 level) private pure returns (uint256 n) {
        n = 1;
        for (uint256 b = 0; b < level; ++b) {
            if ((last >> b) & 1 == 1) n += b + 1;
        }
    }

    function _bitLength(uint256 x) private pure returns (uint256 n) {
        while (x != 0) {
            x >>= 1;
            ++n;
        }
    }

    /// @dev SHA-256(0x00 ‖ data) through the precompile, in scratch memory past the free pointer.
    function _hashLeaf(bytes32 data) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0)
            mstore(add(p, 1), data)
            if iszero(staticcall(gas(), 0x02, p, 33, 0x00, 0x20)) {
                revert(0, 0)
            }
            h := mload(0x00)
        }
    }

    /// @dev SHA-256(0x01 ‖ left ‖ right) through the precompile, in scratch memory past the free pointer.
    function _hashChildren(bytes32 left, bytes32 right) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 1)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            if iszero(staticcall(gas(), 0x02, p, 65, 0x00, 0x20)) {
                revert(0, 0)
            }
            h := mload(0x00)
        }
    }
}
