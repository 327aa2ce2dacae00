"""A self-contained HTML report: figures (base64 PNG), tables and the numbers behind every figure (CSV).

Everything the report shows comes from the dataset passed in; nothing is fetched. User-provided strings
(model names, setups, families) are HTML-escaped everywhere. :func:`build_report` runs the section functions
(``accuracy_sections``, ``energy_sections``) and fills ``template.html`` with what they return.
"""

from joulebench.analysis.report.accuracy_sections import TARGETS
from joulebench.analysis.report.build import Report, build_report
from joulebench.analysis.report.figures import TYPE_COLOURS

__all__ = ["TARGETS", "TYPE_COLOURS", "Report", "build_report"]
