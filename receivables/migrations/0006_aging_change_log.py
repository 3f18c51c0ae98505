"""A change log the AR aging page keys its cache by (issue 16; receivables/aging_page.py).

Every statement that writes a table the aging reads (invoices, credit notes, payments,
allocations, accounts) appends one row here from a statement-level trigger, in the writer's own
transaction: no lock is shared between writers, raw SQL and bulk writes are seen as well as the
ORM's, and a rolled-back write leaves nothing. A reader takes (count, min id, max id) of the rows
its snapshot sees: committed writes only ever add rows, so the triple changes whenever the data
the report reads can have changed.
"""

from django.db import migrations

TABLES = (
    "invoicing_invoice",
    "invoicing_creditnote",
    "receivables_payment",
    "receivables_allocation",
    "agreements_account",
)

SQL = [
    "CREATE TABLE receivables_agingchange (id bigserial PRIMARY KEY)",
    """CREATE FUNCTION receivables_aging_changed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO receivables_agingchange DEFAULT VALUES; RETURN NULL; END $$""",
    *(
        f"""CREATE TRIGGER {table}_aging_change
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION receivables_aging_changed()"""
        for table in TABLES
    ),
]
REVERSE = [
    *(f"DROP TRIGGER IF EXISTS {table}_aging_change ON {table}" for table in TABLES),
    "DROP FUNCTION IF EXISTS receivables_aging_changed()",
    "DROP TABLE IF EXISTS receivables_agingchange",
]


class Migration(migrations.Migration):
    dependencies = [
        ("receivables", "0005_payment_import_record"),
        ("invoicing", "0010_invoice_list_sort_indexes"),
        ("agreements", "0003_import_record"),
    ]

    operations = [migrations.RunSQL(sql=SQL, reverse_sql=REVERSE)]
