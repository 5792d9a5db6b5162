// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/**
 * @title Events and custom errors of the AnchorCouncil.
 * @notice An operation is a TimelockController batch (targets, values, payloads, predecessor,
 * salt); its id is the timelock's `hashOperationBatch` of it.
 */
interface IAnchorCouncil {
    /// @notice The first approval of operation `id` (in the current membership), with everything needed to approve, schedule or execute it.
    event OperationProposed(
        bytes32 indexed id,
        address indexed proposer,
        address[] targets,
        uint256[] values,
        bytes[] payloads,
        bytes32 predecessor,
        bytes32 salt
    );
    /// @notice `member` approved operation `id`; at `threshold` approvals it was scheduled.
    event OperationApproved(bytes32 indexed id, address indexed member, uint256 approvals, uint256 threshold);
    /// @notice `member` approved cancelling the scheduled operation `id`; at `threshold` approvals it was cancelled.
    event CancellationApproved(bytes32 indexed id, address indexed member, uint256 approvals, uint256 threshold);
    /// @notice The council is now `members`, `threshold` of whom must approve; pending approvals were dropped.
    event MembersChanged(address[] members, uint256 threshold);

    /// @dev `account` is not a member of the council.
    error AnchorCouncilNotMember(address account);
    /// @dev `member` already approved `id` (or its cancellation).
    error AnchorCouncilAlreadyApproved(bytes32 id, address member);
    /// @dev Operation `id` is already scheduled or done; approvals are for operations not yet scheduled.
    error AnchorCouncilAlreadyScheduled(bytes32 id);
    /// @dev Operation `id` was cancelled; propose it again with another salt.
    error AnchorCouncilOperationCancelled(bytes32 id);
    /// @dev Operation `id` is not scheduled and waiting (or ready), so there is nothing to cancel.
    error AnchorCouncilNotPending(bytes32 id);
    /// @dev `threshold` must be at least 2 and at most the number of members, `members`.
    error AnchorCouncilInvalidThreshold(uint256 threshold, uint256 members);
    /// @dev `account` cannot be a member: the zero address, or listed twice.
    error AnchorCouncilInvalidMember(address account);
}
