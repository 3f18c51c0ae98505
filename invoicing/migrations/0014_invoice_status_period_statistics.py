"""Extended statistics on invoices' (status, period) for the review page's drafts (issue 16).

The review page shows a period's drafts 50 at a time in customer order (invoicing/selectors/
review.py `_of_period`). PostgreSQL estimated a period's drafts as the product of two separate
frequencies (drafts are 1% of all invoices, a month 4%): 110 rows where the xl-shaped data has
2,400 (290,000 invoices over 24 months). At 110 rows a sort of all the period's drafts looked
cheaper than walking the customers in name order (`account_review_order`, migration 0012), so
every page joined and sorted all 2,400 drafts to show 50 (EXPLAIN ANALYZE 5.2 ms). With the
joint distribution of the two columns (an MCV list: a few statuses times the months) the
estimate is 2,284 and the plan walks about 110 customers in name order, probing each one's
draft of the period by the open-draft index, and stops after the page's rows (0.9 ms). The
approved table's estimate was already right and keeps its walk.

The statistics are filled by ANALYZE (run here once, then by autovacuum as the table changes).
Plain SQL, like 0010-0012: Django's migration state has no statistics objects.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0013_history_entry_billing_fewer_indexes")]

    operations = [
        migrations.RunSQL(
            sql=[
                "CREATE STATISTICS IF NOT EXISTS invoice_status_period_mcv (mcv) "
                "ON status, period FROM invoicing_invoice",
                "ANALYZE invoicing_invoice",
            ],
            reverse_sql="DROP STATISTICS IF EXISTS invoice_status_period_mcv",
        )
    ]
