from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0003_slugged_tag"),
    ]

    operations = [
        migrations.CreateModel(
            name="TrackedTag",
            fields=[],
            options={
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("testapp.tag",),
        ),
    ]
