"""Code lists shared by contracts and APIs (the catalogue of topics, modes, statuses)."""

from typing import Literal

Topic = Literal[
    "language", "work", "housing", "school", "education",
    "health", "family", "residence", "benefits", "everyday_life",
]
Mode = Literal["office", "outreach", "phone", "video", "group"]
CloseReason = Literal["independent", "moved_away", "transferred", "other"]
GoalStatus = Literal["open", "in_progress", "achieved", "dropped"]
PositionStatus = Literal["approved", "occupied", "vacant"]
ApplicationStatus = Literal["submitted", "approved", "rejected"]
