"""Intake: the police operators' HTTP interface for reports, alerts, notices and news."""
