# The mirror remembers each owned domain's forwarding mode (hand-written operations).

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0010_checkout_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="remotedomain",
            name="forwarding_mode",
            field=models.CharField(
                blank=True,
                choices=[
                    ("redirect", "Redirect (the address changes)"),
                    ("stealth", "Stealth (the address stays)"),
                ],
                max_length=10,
            ),
        ),
    ]
