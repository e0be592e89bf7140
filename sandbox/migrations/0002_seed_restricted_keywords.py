from __future__ import annotations

from django.db import migrations

# A frozen copy of sandbox.rules.DEFAULT_RESTRICTED_KEYWORDS as of this migration.
KEYWORDS = (
    "adobe", "amazon", "apple", "binance", "coinbase", "dropbox", "ebay", "equifax", "experian",
    "facebook", "gmail", "google", "hotmail", "hubspot", "icloud", "instagram", "instantly",
    "linkedin", "mastercard", "microsoft", "netflix", "office365", "outlook", "paypal",
    "salesforce", "tiktok", "transunion", "twitter", "walmart", "whatsapp", "youtube",
)


def seed(apps, schema_editor):
    keyword_model = apps.get_model("sandbox", "RestrictedKeyword")
    keyword_model.objects.bulk_create(
        [keyword_model(keyword=keyword) for keyword in KEYWORDS], ignore_conflicts=True
    )


def unseed(apps, schema_editor):
    apps.get_model("sandbox", "RestrictedKeyword").objects.filter(keyword__in=KEYWORDS).delete()


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
