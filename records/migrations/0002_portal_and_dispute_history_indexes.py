"""The indexes of 0001 on the history tables the History view gained with disputes and the
portal (issue 18: every portal action readable in the app, the contact as actor): newest rows by
(history_date, history_id), previous versions by (id, history_id)."""

from django.db import migrations

TABLES = (
    "receivables_historicaldispute",
    "receivables_historicaldisputemessage",
    "receivables_historicaldisputeattachment",
    "portal_historicalcontact",
    "portal_historicalportalaccount",
    "portal_historicalpaymentnotice",
    "portal_historicalportalevent",
)


def _short(table: str) -> str:
    return table.replace("historical", "h")


def _sql(table: str) -> list[str]:
    short = _short(table)
    return [
        f"CREATE INDEX IF NOT EXISTS {short}_date_hid ON {table} (history_date, history_id)",
        f"CREATE INDEX IF NOT EXISTS {short}_id_hid ON {table} (id, history_id)",
    ]


def _reverse(table: str) -> list[str]:
    short = _short(table)
    return [f"DROP INDEX IF EXISTS {short}_{name}" for name in ("date_hid", "id_hid")]


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0001_history_indexes"),
        ("receivables", "0003_disputes"),
        ("portal", "0003_portal_event_history"),
    ]

    operations = [
        migrations.RunSQL(sql=_sql(table), reverse_sql=_reverse(table)) for table in TABLES
    ]
