-- +goose Up
-- A person's language and time zone for the console, kept with the user so
-- they follow them to every browser (a browser's own choice, a cookie,
-- still wins on that browser). Empty: not chosen.
ALTER TABLE sec_user ADD COLUMN lang TEXT NOT NULL DEFAULT '';
ALTER TABLE sec_user ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sec_user DROP COLUMN time_zone;
ALTER TABLE sec_user DROP COLUMN lang;
