"""End-of-call analysis: summary, structured data and success evaluation (`call.analysis`)."""

from opencall.analysis.analyze import analysis_deadline_seconds, analyze_call

__all__ = ["analysis_deadline_seconds", "analyze_call"]
