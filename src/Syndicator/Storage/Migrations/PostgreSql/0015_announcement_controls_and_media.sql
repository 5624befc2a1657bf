-- What an article's file says about announcing it: announce: false, announceAt, social: { x, mastodon, bluesky },
-- skipAccounts (one account name a line). Articles stored before this announce as they always did.
ALTER TABLE articles ADD COLUMN announce BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE articles ADD COLUMN announce_at TIMESTAMPTZ;
ALTER TABLE articles ADD COLUMN social_x TEXT;
ALTER TABLE articles ADD COLUMN social_mastodon TEXT;
ALTER TABLE articles ADD COLUMN social_bluesky TEXT;
ALTER TABLE articles ADD COLUMN skip_accounts TEXT;

-- The image of one announcement: what the network gave for the uploaded image (X or Mastodon media id, Bluesky
-- blob), written before the post is made, so a retry posts with it instead of uploading again; or why the post
-- went out without it.
CREATE TABLE announcement_media (
    delivery_id  BIGINT PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
    image_url    TEXT NOT NULL,
    media_ref    TEXT,
    warning      TEXT,
    updated_at   TIMESTAMPTZ NOT NULL
);
