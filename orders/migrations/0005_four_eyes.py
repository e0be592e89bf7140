# Placeholder filled in by the change that needs it (hand-written operations).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_mailbox_status_index"),
    ]

    operations = []
