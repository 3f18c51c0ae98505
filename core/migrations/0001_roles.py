"""Create the four role groups of SPEC section 7.

Authorization is decided by core.roles.CAPABILITIES (checked on every view and
endpoint); the groups also get Django model permissions so that the admin console shows each role
the same: the auditor views everything, the others view and change their own models.
"""

from django.db import migrations

ROLES = ("Billing admin", "Services manager", "Finance", "Auditor")


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_roles, remove_roles)]
