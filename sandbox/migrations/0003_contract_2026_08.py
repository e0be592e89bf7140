# The 2026-07/08 schema: sandbox switches and rules that changed; hand-written.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0002_seed_restricted_keywords"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sandboxworkspace",
            name="has_payment_method",
            field=models.BooleanField(
                default=True,
                help_text="Off: no default payment method. Simulations show no card; real "
                "orders answer checkout_required with a cart_order_id and record nothing.",
            ),
        ),
    ]
