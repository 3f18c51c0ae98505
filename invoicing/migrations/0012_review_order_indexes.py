"""Indexes for the review page's order (invoicing/selectors/review.py `_of_period`: a period's
invoices by customer name, Account ID, currency, PO, id; issue 16).

Before, a page of 50 sorted every invoice of the period joined to its customer: 1,191 approved
invoices for 2024-07 at firm scale (5.9 ms, most of it the top-N sort on the names), about
12,000 at xl (ten times that). With customers in name order (`account_review_order`, the
Account model's default ordering) and a period's invoices by customer
(`invoice_account_period`), PostgreSQL walks the customers in name order, probes each one's
invoices of the period and stops after the page's rows (an incremental sort orders a customer's
few invoices): 0.5 ms at firm, independent of the number of invoices in the period.

The customer index is on agreements' table but serves invoicing's query, so it is created here.
Plain SQL, like 0010 and 0011: the models declare no Meta.indexes for these, so Django's
migration state stays as it is.
"""

from django.db import migrations

INDEXES = {
    "account_review_order": "agreements_account (name, external_id)",
    "invoice_account_period": "invoicing_invoice (account_id, period)",
}


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0003_import_record"),
        ("invoicing", "0011_invoice_account_balance_index"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table_columns}",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, table_columns in INDEXES.items()
    ]
