"""The time trackers whose exports import as they are (SPEC 1.4): each maps its own columns and
value conventions onto SPEC 1.2. Column names and conventions come from each vendor's documented
export and public sample files (docs/imports.md lists them); tests/imports/fixtures/ holds one
file per source built from them.

A tuple of alternatives is tried in order: the first whose columns are all in the header is read,
and a later one fills a cell the first leaves empty (Toggl's Email, Harvest's Project Code).
Sources without an entry ID derive one (SPEC 1.4) from KEY_FIELDS.
"""

from __future__ import annotations

from core.reading import Source

KIND = "time_entries"
# Employee, date, project, start time, hours, notes (SPEC 1.4 "Derived keys"); n is added.
KEY_FIELDS = ("Employee ID", "Date", "Project Code", "Start Time", "Hours", "Notes")


def _header(names: str) -> frozenset[str]:
    """A signature: the normalized header names, written as the header reads, ", " between."""
    return frozenset(names.split(", "))


def _derived(name: str, label: str, **kwargs) -> Source:
    return Source(name, label, KIND, derive_key="Entry ID", key_fields=KEY_FIELDS, **kwargs)


BILLABLE = Source(
    "billable",
    "Billable (SPEC 1.2)",
    KIND,
    signature=_header("entry id, date, employee id, project code, hours, billable"),
)

# Harvest "Detailed time" report: no entry ID, the person as First Name + Last Name, "?" flags.
HARVEST = _derived(
    "harvest",
    "Harvest detailed time report",
    signature=_header(
        "date, client, project, task, notes, hours, billable?, first name, last name"
    ),
    columns={
        "Employee ID": (("First Name", "Last Name"),),
        "Employee Name": (("First Name", "Last Name"),),
        "Project Code": (("Project Code",), ("Project",)),
        "Role": (("Roles",),),
        "Billable": (("Billable?",),),
        "Approved": (("Approved?",),),
    },
)

# The columns Toggl's and Clockify's detailed reports name alike (header names compare
# case-blind: Toggl writes "Start date", Clockify "Start Date").
_DETAILED_REPORT = {
    "Date": (("Start date",),),
    "Start Time": (("Start time",),),
    "Employee ID": (("Email",), ("User",)),
    "Employee Name": (("User",),),
    "Project Code": (("Project",),),
    "Notes": (("Description",),),
}

# Toggl Track "Detailed report" CSV: User, Email, ..., Start date, Start time, Duration (HH:MM:SS).
TOGGL = _derived(
    "toggl",
    "Toggl Track detailed report",
    signature=_header(
        "user, email, project, description, billable, start date, start time, duration"
    ),
    columns={**_DETAILED_REPORT, "Hours": (("Duration",),)},
)

# Clockify "Detailed report" CSV: every field quoted, dates in the user's order, 12-hour times.
CLOCKIFY = _derived(
    "clockify",
    "Clockify detailed report",
    signature=_header(
        "project, client, description, user, email, billable, start date, start time, duration (h)"
    ),
    columns={**_DETAILED_REPORT, "Hours": (("Duration (h)",), ("Duration (decimal)",))},
)

# Kimai CSV export: ";" separated, Duration in seconds, labels in the user's language.
KIMAI = _derived(
    "kimai",
    "Kimai export",
    signature=_header("date, from, to, duration, user, customer, project, activity"),
    alternative_signatures=(
        _header("datum, von, bis, dauer, benutzer, kunde, projekt, tätigkeit"),
        _header("date, de, à, durée, utilisateur, client, projet, activité"),
    ),
    columns={
        "Date": (("Date",), ("Datum",)),
        "Start Time": (("From",), ("Von",), ("De",)),
        "Hours": (("Duration",), ("Dauer",), ("Durée",)),
        "Employee ID": (("E-mail",), ("Email",), ("User",), ("Benutzer",), ("Utilisateur",)),
        "Employee Name": (("User",), ("Benutzer",), ("Utilisateur",)),
        "Project Code": (("Project",), ("Projekt",), ("Projet",)),
        "Task": (("Activity",), ("Tätigkeit",), ("Activité",)),
        "Notes": (("Description",), ("Beschreibung",)),
        "Billable": (("Billable",), ("Abrechenbar",), ("Facturable",)),
    },
    kinds={"Hours": "seconds"},
    defaults={"Billable": "yes"},
)

# Jira Tempo worklog export: 39 columns (Epic Link twice), "Work date" as a date-time, an optional
# worklog ID; Billed Hours > 0 means billable.
TEMPO = _derived(
    "tempo",
    "Jira Tempo worklogs",
    signature=_header("issue key, hours, work date, work description"),
    columns={
        "Entry ID": (("Worklog Id",), ("Tempo Worklog ID",)),
        "Date": (("Work date",),),
        "Start Time": (("Work date",),),
        "Employee ID": (("Email",), ("Full name",), ("Username",)),
        "Employee Name": (("Full name",),),
        "Project Code": (("Project Key",),),
        "Task": (("Issue Key",),),
        "Notes": (("Work Description",),),
        "Billable": (("Billed Hours",),),
    },
    kinds={"Billable": "positive"},
    defaults={"Billable": "yes"},
)

# Value kinds of the SPEC 1.2 columns (core.reading.values); "Start Time" only feeds derived keys.
KINDS = {
    "Entry ID": "id", "Date": "date", "Hours": "duration", "Billable": "bool",
    "Approved": "bool", "Start Time": "start",
}  # fmt: skip

OTHERS = (HARVEST, TOGGL, CLOCKIFY, KIMAI, TEMPO)
NAMES = ("billable", *(s.name for s in OTHERS))
