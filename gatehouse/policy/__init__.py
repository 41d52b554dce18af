"""The gate policy: its model, its reasons and the decision function."""
from gatehouse.policy.decide import (
           Decision,
           Finding,
           GateState,
           History,
           Subject,
           decide,
           subject_of,
)
from gatehouse.policy.model import BuildingStatus, Direction, Outcome, Policy, Who
from gatehouse.policy.reasons import Reason

__all__ = ["BuildingStatus", "Decision", "Direction", "Finding", "GateState", "History",
           "Outcome", "Policy", "Reason", "Subject", "Who", "decide", "subject_of"]
