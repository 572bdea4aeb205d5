from django.core.management import call_command


def test_models_and_migrations_agree(db, capsys):
    # makemigrations --check exits 1 (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=1)

    assert "No changes detected" in capsys.readouterr().out
