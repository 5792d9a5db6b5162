// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IAnchorCouncil} from "./IAnchorCouncil.sol";

/**
 * @title AnchorCouncil
 * @notice The consortium's governor: k of n members approve an action, and it then waits out a
 * timelock delay, in public, before anyone may execute it. It is OpenZeppelin's
 * TimelockController, unchanged, whose only proposer and canceller is the council itself, plus
 * the k-of-n approval that schedules (or cancels) an operation once `threshold` members approve.
 *
 * Why both. A timelock alone lets one proposer key schedule anything, which then happens after
 * the delay unless someone notices in time; k-of-n alone lets a stolen quorum act at once, with
 * nobody warned. Together: no single key registers, revokes, suspends or appoints anything (the
 * threshold is at least 2, and members hold no timelock role of their own), and every action is
 * on chain (CallScheduled) for the whole delay, during which `threshold` members can cancel it
 * and provinces and verifiers can see what is coming. Executing a ready operation needs no
 * role: the approvals and the delay are the safeguard, and anyone can finish the job.
 * Membership, threshold and delay change only through the council itself (an approved,
 * delayed operation whose target is this contract).
 *
 * Deployments choose the delay: development chains use 1 second, production the delay the
 * consortium agrees (the governor script's default is 86,400 s, one day). Revocations and
 * suspensions wait the delay too.
 */
contract AnchorCouncil is IAnchorCouncil, TimelockController {
    /// @notice No fewer members than this may approve an operation: one key never acts alone.
    uint256 public constant MIN_THRESHOLD = 2;

    struct Tally {
        uint256 count;
        mapping(address member => bool) approved;
    }

    address[] private _members;
    mapping(address account => bool) private _isMember;
    uint256 private _threshold;
    // Bumped whenever membership changes, which drops every approval not yet acted on.
    uint256 private _epoch;
    mapping(uint256 epoch => mapping(bytes32 id => Tally)) private _approvals;
    mapping(uint256 epoch => mapping(bytes32 id => Tally)) private _cancellations;
    mapping(bytes32 id => bool) private _cancelled;

    /**
     * @notice A council of `initialMembers`, `initialThreshold` of whom must approve an operation, whose
     * operations wait `minDelay` seconds between being scheduled and being executable.
     * @dev Emits {MembersChanged}. Executing is open to any account (EXECUTOR_ROLE of address 0).
     *
     * Requirements:
     * - `initialMembers` are distinct and none is the zero address;
     * - 2 ≤ `initialThreshold` ≤ the number of members.
     */
    constructor(
        address[] memory initialMembers,
        uint256 initialThreshold,
        uint256 minDelay
    ) TimelockController(minDelay, new address[](0), _anyone(), address(0)) {
        _grantRole(PROPOSER_ROLE, address(this));
        _grantRole(CANCELLER_ROLE, address(this));
        _setMembers(initialMembers, initialThreshold);
    }

    /**
     * @notice Approves the operation (`targets`, `values`, `payloads`, `predecessor`, `salt`); the
     * approval that reaches the threshold schedules it on the timelock with the minimum delay.
     * @return id The operation's id, the timelock's `hashOperationBatch` of it.
     * @dev Emits {OperationProposed} on the first approval, {OperationApproved} on each, and the
     * timelock's {CallScheduled} when it is scheduled.
     *
     * Requirements:
     * - the caller is a member and has not approved this operation yet;
     * - the operation is neither scheduled, done nor cancelled.
     */
    function approve(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata payloads,
        bytes32 predecessor,
        bytes32 salt
    ) external returns (bytes32 id) {
        _requireMember(msg.sender);
        id = hashOperationBatch(targets, values, payloads, predecessor, salt);
        if (_cancelled[id]) revert AnchorCouncilOperationCancelled(id);
        if (isOperation(id)) revert AnchorCouncilAlreadyScheduled(id);
        uint256 count = _tally(_approvals[_epoch][id], id);
        if (count == 1) emit OperationProposed(id, msg.sender, targets, values, payloads, predecessor, salt);
        emit OperationApproved(id, msg.sender, count, _threshold);
        if (count >= _threshold) this.scheduleBatch(targets, values, payloads, predecessor, salt, getMinDelay());
    }

    /**
     * @notice Approves cancelling the scheduled operation `id`; the approval that reaches the
     * threshold cancels it, for good (the same operation can never be approved again).
     * @dev Emits {CancellationApproved}, and the timelock's {Cancelled} when it is cancelled.
     *
     * Requirements:
     * - the caller is a member and has not approved cancelling `id` yet;
     * - `id` is scheduled and not yet executed.
     */
    function approveCancel(bytes32 id) external {
        _requireMember(msg.sender);
        if (!isOperationPending(id)) revert AnchorCouncilNotPending(id);
        uint256 count = _tally(_cancellations[_epoch][id], id);
        emit CancellationApproved(id, msg.sender, count, _threshold);
        if (count >= _threshold) {
            _cancelled[id] = true;
            this.cancel(id);
        }
    }

    /**
     * @notice Replaces the council's members and threshold; approvals not yet acted on are dropped.
     * @dev Emits {MembersChanged}.
     *
     * Requirements:
     * - the caller is the council itself, i.e. this is an approved operation executed after its delay;
     * - `newMembers` are distinct and none is the zero address;
     * - 2 ≤ `newThreshold` ≤ the number of members.
     */
    function setMembers(address[] calldata newMembers, uint256 newThreshold) external {
        if (msg.sender != address(this)) revert TimelockUnauthorizedCaller(msg.sender);
        _setMembers(newMembers, newThreshold);
    }

    /**
     * @notice The current members, in the order they were set.
     *
     * Requirements:
     * - none.
     */
    function members() external view returns (address[] memory) {
        return _members;
    }

    /**
     * @notice How many members must approve an operation (or its cancellation).
     *
     * Requirements:
     * - none.
     */
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /**
     * @notice Whether `account` is a member.
     *
     * Requirements:
     * - none.
     */
    function isMember(address account) external view returns (bool) {
        return _isMember[account];
    }

    /**
     * @notice How many current members have approved operation `id`, and whether `member` has.
     *
     * Requirements:
     * - none.
     */
    function approvals(bytes32 id, address member) external view returns (uint256 count, bool approvedByMember) {
        Tally storage tally = _approvals[_epoch][id];
        return (tally.count, tally.approved[member]);
    }

    /**
     * @notice How many current members have approved cancelling operation `id`, and whether `member` has.
     *
     * Requirements:
     * - none.
     */
    function cancellations(bytes32 id, address member) external view returns (uint256 count, bool approvedByMember) {
        Tally storage tally = _cancellations[_epoch][id];
        return (tally.count, tally.approved[member]);
    }

    /**
     * @notice Whether operation `id` was cancelled by the council (it can never be approved again).
     *
     * Requirements:
     * - none.
     */
    function isCancelled(bytes32 id) external view returns (bool) {
        return _cancelled[id];
    }

    function _tally(Tally storage tally, bytes32 id) private returns (uint256) {
        if (tally.approved[msg.sender]) revert AnchorCouncilAlreadyApproved(id, msg.sender);
        tally.approved[msg.sender] = true;
        return ++tally.count;
    }

    function _requireMember(address account) private view {
        if (!_isMember[account]) revert AnchorCouncilNotMember(account);
    }

    function _setMembers(address[] memory members_, uint256 threshold_) private {
        if (threshold_ < MIN_THRESHOLD || threshold_ > members_.length) {
            revert AnchorCouncilInvalidThreshold(threshold_, members_.length);
        }
        for (uint256 i = 0; i < _members.length; ++i) _isMember[_members[i]] = false;
        for (uint256 i = 0; i < members_.length; ++i) {
            address m = members_[i];
            if (m == address(0) || _isMember[m]) revert AnchorCouncilInvalidMember(m);
            _isMember[m] = true;
        }
        _members = members_;
        _threshold = threshold_;
        ++_epoch;
        emit MembersChanged(members_, threshold_);
    }

    function _anyone() private pure returns (address[] memory executors) {
        executors = new address[](1);
        executors[0] = address(0);
    }
}
