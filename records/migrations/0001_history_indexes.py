"""Indexes the history view (records/history.py) reads by, on the django-simple-history tables of
every kind it shows (issue 16).

- (history_date, history_id): a page is the newest rows of each table in that order. With the
  history_date index alone PostgreSQL sorted every row sharing a timestamp, and a bulk import
  writes all its rows with one (800,000 at firm scale: 10 s for the first page).
- (id, history_id): the previous version of each shown row, for its field-by-field changes.
- UPPER(number / external_id / subject): the "Record ID" filter matches them case-insensitively
  (`iexact`), which otherwise reads every row of the table (1.5 s on the time entries).

Plain SQL because simple-history generates these models; Django's state has no indexes to
track here, so `makemigrations` stays quiet.
"""

from django.db import migrations

TABLES = (
    "agreements_historicalaccount",
    "agreements_historicalagreement",
    "agreements_historicalrolerate",
    "agreements_historicalmilestone",
    "timesheets_historicaltimeentry",
    "timesheets_historicalflag",
    "invoicing_historicalinvoice",
    "invoicing_historicalinvoiceline",
    "invoicing_historicalcreditnote",
    "receivables_historicalpayment",
    "receivables_historicalallocation",
    "receivables_historicalreminder",
)

SEARCHED = {
    "agreements_historicalaccount": "external_id",
    "agreements_historicalagreement": "external_id",
    "timesheets_historicaltimeentry": "external_id",
    "timesheets_historicalflag": "subject",
    "invoicing_historicalinvoice": "number",
    "invoicing_historicalcreditnote": "number",
    "receivables_historicalpayment": "external_id",
}


def _short(table: str) -> str:
    return table.replace("historical", "h")


def _sql(table: str) -> list[str]:
    short = _short(table)
    sql = [
        f"CREATE INDEX IF NOT EXISTS {short}_date_hid ON {table} (history_date, history_id)",
        f"CREATE INDEX IF NOT EXISTS {short}_id_hid ON {table} (id, history_id)",
    ]
    if table in SEARCHED:
        column = SEARCHED[table]
        sql.append(f"CREATE INDEX IF NOT EXISTS {short}_upper ON {table} (UPPER({column}::text))")
    return sql


def _reverse(table: str) -> list[str]:
    short = _short(table)
    return [f"DROP INDEX IF EXISTS {short}_{name}" for name in ("date_hid", "id_hid", "upper")]


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0002_account_buyer_and_agreement_tax_category"),
        ("timesheets", "0004_run_heartbeat"),
        ("invoicing", "0008_run_heartbeat"),
        ("receivables", "0005_payment_import_record"),
    ]

    operations = [
        migrations.RunSQL(sql=_sql(table), reverse_sql=_reverse(table)) for table in TABLES
    ]
