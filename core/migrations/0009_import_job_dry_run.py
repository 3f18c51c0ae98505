from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_idempotency_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="dry_run",
            field=models.BooleanField(
                default=False,
                help_text="A check of the file (the upload page's preview): writes nothing and "
                "keeps the file for the import that may follow.",
            ),
        ),
    ]
