"""Total = net + tax exactly again: the tenth-of-a-cent tolerance of 0003 only served SQLite's
binary floats, and PostgreSQL is now the only engine."""

import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0004_line_tax_category_service_period_notes")]

    operations = [
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_total_is_net_plus_tax",
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "total",
                        django.db.models.expressions.CombinedExpression(
                            models.F("net"), "+", models.F("tax")
                        ),
                    )
                ),
                name="invoice_total_is_net_plus_tax",
            ),
        ),
    ]
