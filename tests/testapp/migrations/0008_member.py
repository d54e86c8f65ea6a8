from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0007_stock"),
    ]

    operations = [
        migrations.CreateModel(
            name="Member",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.CharField(max_length=100)),
                ("active", models.BooleanField(default=True)),
            ],
        ),
    ]
