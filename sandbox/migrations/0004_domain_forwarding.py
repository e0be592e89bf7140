# Fault switches for the domain forwarding endpoints (hand-written operations).

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0003_contract_2026_08"),
    ]

    operations = [
        migrations.AddField(
            model_name="sandboxsettings",
            name="forwarding_unsupported",
            field=models.BooleanField(
                blank=True,
                help_text="Forwarding PUTs answer 422: not supported for the domain.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="sandboxsettings",
            name="forwarding_apply_fails",
            field=models.BooleanField(
                blank=True,
                help_text="Forwarding PUTs and DELETEs answer 502 and change nothing.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="sandboxworkspace",
            name="forwarding_unsupported",
            field=models.BooleanField(
                blank=True,
                help_text="Forwarding PUTs answer 422: not supported for the domain.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="sandboxworkspace",
            name="forwarding_apply_fails",
            field=models.BooleanField(
                blank=True,
                help_text="Forwarding PUTs and DELETEs answer 502 and change nothing.",
                null=True,
            ),
        ),
    ]
