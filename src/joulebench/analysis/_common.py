"""The old name of :mod:`joulebench.analysis.frames`, kept so that imports of it keep working."""

from joulebench.analysis.frames import *  # noqa: F403
