package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/internal/sealbox"
)

var _ client.Accounts = (*ClientIdentityStore)(nil)

// ClientIdentityStore keeps the client's accounts, invitations, passkeys
// and sessions (client.Accounts). Its method names differ from
// IdentityStore's, whose staff credentials it never reads, so both are
// promoted on DB.
type ClientIdentityStore struct{ *conn }

func hashClientSecret(secret string) []byte {
	h := sha256.Sum256([]byte("countersign-client-secret\n" + secret))
	return h[:]
}

type invitationRow struct {
	ID        string     `db:"id"`
	AccountID string     `db:"account_id"`
	PartyID   string     `db:"party_id"`
	CaseID    string     `db:"case_id"`
	CreatedBy string     `db:"created_by"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt time.Time  `db:"expires_at"`
	UsedAt    *time.Time `db:"used_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

const invitationColumns = `id, account_id, party_id, case_id, created_by, created_at, expires_at, used_at, revoked_at`

func (r *invitationRow) toDomain() *client.Invitation {
	return &client.Invitation{ID: r.ID, AccountID: r.AccountID, PartyID: r.PartyID, CaseID: r.CaseID, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), UsedAt: utcPtr(r.UsedAt), RevokedAt: utcPtr(r.RevokedAt)}
}

// accountRow is an account with its party: what the client is greeted with.
type accountRow struct {
	ID             string     `db:"a_id"`
	PartyID        string     `db:"a_party_id"`
	PassphraseHash *string    `db:"a_passphrase_hash"`
	ActivatedAt    *time.Time `db:"a_activated_at"`
	DisabledAt     *time.Time `db:"a_disabled_at"`
	CaseID         string     `db:"p_case_id"`
	Name           string     `db:"p_full_name"`
	Language       string     `db:"p_language"`
	Passkeys       int        `db:"passkeys"`
}

const accountColumns = `a.id AS a_id, a.party_id AS a_party_id, a.passphrase_hash AS a_passphrase_hash,
	a.activated_at AS a_activated_at, a.disabled_at AS a_disabled_at,
	p.case_id AS p_case_id, p.full_name AS p_full_name, p.language AS p_language,
	(SELECT COUNT(*) FROM client_passkeys k WHERE k.account_id = a.id) AS passkeys`

func (r *accountRow) toDomain() *client.Account {
	return &client.Account{ID: r.ID, PartyID: r.PartyID, CaseID: r.CaseID, Name: r.Name, Language: r.Language,
		Activated: r.ActivatedAt != nil, Disabled: r.DisabledAt != nil, HasPasskey: r.Passkeys > 0}
}

func (db *conn) findAccount(ctx context.Context, q queryer, where string, args ...any) (*accountRow, error) {
	var r accountRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+accountColumns+`
		FROM client_accounts a
		JOIN parties p ON p.id = a.party_id
		WHERE `+where), args...); err != nil {
		return nil, db.translate(err)
	}
	if err := db.openAccount(ctx, q, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// openAccount opens the party's name an account row is read with.
func (db *conn) openAccount(ctx context.Context, q queryer, r *accountRow) error {
	o, err := db.opener(ctx, q, r.CaseID)
	if err != nil {
		return err
	}
	r.Name, err = o.open(sealbox.Where{Table: "parties", Column: "full_name", Row: r.PartyID}, r.Name)
	return err
}

// CreateInvitation applies client.DecideInvitation.
func (db *ClientIdentityStore) CreateInvitation(ctx context.Context, caseID, partyID string) (*client.Invitation, string, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	var d *client.InvitationDecision
	err = db.withTx(ctx, func(tx *Tx) error {
		c, p, err := db.lockParty(ctx, tx, caseID, partyID)
		if err != nil {
			return err
		}
		var account string
		if err := tx.GetContext(ctx, &account, tx.Rebind(`SELECT id FROM client_accounts WHERE party_id = ?`), partyID); err != nil {
			if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
				return err
			}
		}
		var open []string
		if err := tx.SelectContext(ctx, &open, tx.Rebind(`
			SELECT id FROM client_invitations
			WHERE party_id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?
			ORDER BY created_at, id`), partyID, tx.now); err != nil {
			return fmt.Errorf("find open invitations: %w", err)
		}
		if d, err = client.DecideInvitation(a, c, p, account, open, tx.now); err != nil {
			return err
		}
		if d.NewAccount != "" {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO client_accounts (id, party_id, created_at) VALUES (?, ?, ?)`),
				d.NewAccount, partyID, tx.now); err != nil {
				return fmt.Errorf("insert client account: %w", err)
			}
		}
		for _, id := range d.Revoke {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_invitations SET revoked_at = ? WHERE id = ?`), tx.now, id); err != nil {
				return fmt.Errorf("revoke invitation: %w", err)
			}
		}
		inv := d.Invitation
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO client_invitations (id, account_id, party_id, case_id, code_hash, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			inv.ID, inv.AccountID, inv.PartyID, inv.CaseID, client.HashCode(d.Code), inv.CreatedBy, inv.CreatedAt, inv.ExpiresAt); err != nil {
			return fmt.Errorf("insert invitation: %w", err)
		}
		return tx.apply(ctx, d.Events)
	})
	if err != nil {
		return nil, "", err
	}
	return d.Invitation, d.Code, nil
}

// lockParty loads a case and one of its parties, the party locked until
// the transaction ends (invitations of one party are decided one at a
// time). A party of another case is not found.
func (db *ClientIdentityStore) lockParty(ctx context.Context, tx *Tx, caseID, partyID string) (*casefile.Case, *casefile.Party, error) {
	var cr caseRow
	// The case is read with its status and locked as content writes lock
	// it, so an invitation cannot slip into a case being closed.
	if err := tx.GetContext(ctx, &cr, tx.Rebind(`SELECT `+caseReadColumns+` FROM cases WHERE id = ?`+db.dialect.forCaseWrite()), caseID); err != nil {
		return nil, nil, notFound(db.translate(err), "There is no case with this id.")
	}
	var pr partyRow
	if err := tx.GetContext(ctx, &pr, tx.Rebind(`
		SELECT id, case_id, role, full_name, date_of_birth, address, phone, email, national_id, language, created_at
		FROM parties WHERE id = ? AND case_id = ?`+db.dialect.forUpdate()), partyID, caseID); err != nil {
		// Whoever may not see the case learns nothing of its parties.
		if a, _ := countersign.ActorFrom(ctx); !casefile.CanRead(a, cr.toDomain()) {
			return nil, nil, client.CheckInvite(a, cr.toDomain())
		}
		return nil, nil, notFound(db.translate(err), "There is no such person in this case.")
	}
	o, err := db.opener(ctx, tx, caseID)
	if err != nil {
		return nil, nil, err
	}
	if err := pr.open(o); err != nil {
		return nil, nil, err
	}
	return cr.toDomain(), &casefile.Party{ID: pr.ID, CaseID: pr.CaseID, Role: pr.Role, FullName: pr.FullName, Email: pr.Email,
		Language: pr.Language, CreatedAt: pr.CreatedAt.UTC()}, nil
}

// RevokeInvitation applies client.DecideRevokeInvitation.
func (db *ClientIdentityStore) RevokeInvitation(ctx context.Context, caseID, partyID, invitationID string) error {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return err
	}
	return db.withTx(ctx, func(tx *Tx) error {
		c, _, err := db.lockParty(ctx, tx, caseID, partyID)
		if err != nil {
			return err
		}
		var inv *client.Invitation
		var r invitationRow
		switch err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+invitationColumns+` FROM client_invitations WHERE id = ? AND party_id = ?`), invitationID, partyID); {
		case err == nil:
			inv = r.toDomain()
		case countersign.ErrorCode(db.translate(err)) != countersign.ENOTFOUND:
			return fmt.Errorf("find invitation: %w", err)
		}
		ev, err := client.DecideRevokeInvitation(a, c, inv, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_invitations SET revoked_at = ? WHERE id = ?`), tx.now, invitationID); err != nil {
			return fmt.Errorf("revoke invitation: %w", err)
		}
		// A sign-up begun with the code ends with it.
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM client_ceremonies WHERE invitation_id = ?`), invitationID); err != nil {
			return fmt.Errorf("end ceremonies: %w", err)
		}
		return tx.apply(ctx, []audit.Record{*ev})
	})
}

// FindInvitationLetter returns an invitation and its account when code is
// its code, for whoever may invite the party.
func (db *ClientIdentityStore) FindInvitationLetter(ctx context.Context, caseID, partyID, invitationID, code string) (*client.Invitation, *client.Account, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, nil, err
	}
	var cr caseRow
	if err := db.r.GetContext(ctx, &cr, db.r.Rebind(`SELECT `+caseColumns+` FROM cases WHERE id = ?`), caseID); err != nil {
		return nil, nil, notFound(db.translate(err), "There is no case with this id.")
	}
	if err := client.CheckInvite(a, cr.toDomain()); err != nil {
		return nil, nil, err
	}
	var r invitationRow
	if err := db.r.GetContext(ctx, &r, db.r.Rebind(`SELECT `+invitationColumns+` FROM client_invitations
		WHERE id = ? AND party_id = ? AND case_id = ? AND code_hash = ?`), invitationID, partyID, caseID, client.HashCode(code)); err != nil {
		return nil, nil, notFound(db.translate(err), "%s", client.ErrNoInvitation.Error())
	}
	acc, err := db.findAccount(ctx, db.r, `a.id = ?`, r.AccountID)
	if err != nil {
		return nil, nil, err
	}
	return r.toDomain(), acc.toDomain(), nil
}

// findOpenInvitation returns the invitation of code and its account, or
// client.ErrCode when the code cannot be used at now.
func (db *ClientIdentityStore) findInvitation(ctx context.Context, q queryer, where string, arg any, now time.Time) (*client.Invitation, *client.Account, error) {
	var r invitationRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT `+invitationColumns+` FROM client_invitations WHERE `+where+db.dialect.forUpdate()), arg); err != nil {
		if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return nil, nil, err
		}
		return nil, nil, client.ErrCode
	}
	inv := r.toDomain()
	acc, err := db.findAccount(ctx, q, `a.id = ?`, inv.AccountID)
	if err != nil {
		return nil, nil, err
	}
	if !inv.Open(now) || acc.DisabledAt != nil {
		return nil, nil, client.ErrCode
	}
	return inv, acc.toDomain(), nil
}

// StartCeremony begins a sign-up with an open invitation's code, or a
// passkey sign-in without one. Ceremonies that expired are purged.
func (db *ClientIdentityStore) StartCeremony(ctx context.Context, code string) (string, *client.Account, error) {
	secret := client.NewSecret()
	var acc *client.Account
	err := db.withTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM client_ceremonies WHERE expires_at <= ?`), tx.now); err != nil {
			return fmt.Errorf("purge ceremonies: %w", err)
		}
		var invID *string
		if code != "" {
			inv, a, err := db.findInvitation(ctx, tx, `code_hash = ?`, client.HashCode(code), tx.now)
			if err != nil {
				return err
			}
			invID, acc = &inv.ID, a
		}
		_, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO client_ceremonies (id, secret_hash, invitation_id, webauthn, created_at, expires_at)
			VALUES (?, ?, ?, '', ?, ?)`),
			countersign.NewID(client.PrefixCeremony), hashClientSecret(secret), invID, tx.now, tx.now.Add(client.CeremonyTTL))
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return secret, acc, nil
}

type ceremonyRow struct {
	ID           string    `db:"id"`
	InvitationID *string   `db:"invitation_id"`
	WebAuthn     string    `db:"webauthn"`
	ExpiresAt    time.Time `db:"expires_at"`
}

var errNoCeremony = countersign.Errorf(countersign.EUNAUTHORIZED, "This page has expired. Please start again.")

func (db *ClientIdentityStore) findCeremony(ctx context.Context, q queryer, secret string, now time.Time) (*client.Ceremony, *client.Account, error) {
	var r ceremonyRow
	if err := q.GetContext(ctx, &r, q.Rebind(`SELECT id, invitation_id, webauthn, expires_at FROM client_ceremonies WHERE secret_hash = ?`+db.dialect.forUpdate()),
		hashClientSecret(secret)); err != nil {
		if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return nil, nil, err
		}
		return nil, nil, errNoCeremony
	}
	if !now.Before(r.ExpiresAt) {
		return nil, nil, errNoCeremony
	}
	c := &client.Ceremony{ID: r.ID, WebAuthn: []byte(r.WebAuthn), ExpiresAt: r.ExpiresAt.UTC()}
	if r.InvitationID == nil {
		return c, nil, nil
	}
	c.InvitationID = *r.InvitationID
	_, acc, err := db.findInvitation(ctx, q, `id = ?`, c.InvitationID, now)
	if err != nil {
		return nil, nil, err
	}
	return c, acc, nil
}

// FindCeremony returns the live ceremony of secret and its account.
func (db *ClientIdentityStore) FindCeremony(ctx context.Context, secret string) (*client.Ceremony, *client.Account, error) {
	return db.findCeremony(ctx, db.r, secret, db.Now().UTC())
}

// SaveChallenge keeps the WebAuthn challenge of a live ceremony.
func (db *ClientIdentityStore) SaveChallenge(ctx context.Context, secret string, webauthn []byte) error {
	return db.withTx(ctx, func(tx *Tx) error {
		c, _, err := db.findCeremony(ctx, tx, secret, tx.now)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE client_ceremonies SET webauthn = ? WHERE id = ?`), string(webauthn), c.ID)
		return err
	})
}

// startSession inserts s and returns its secret, purging the sessions
// that ended or expired a day ago.
func (db *ClientIdentityStore) startSession(ctx context.Context, tx *Tx, s *client.Session) (string, error) {
	secret := client.NewSecret()
	if s.Kind == client.KindToken {
		secret = client.TokenPrefix + secret
	}
	before := tx.now.Add(-24 * time.Hour)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM client_sessions WHERE expires_at <= ? OR ended_at <= ?`), before, before); err != nil {
		return "", fmt.Errorf("purge client sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`
		INSERT INTO client_sessions (id, account_id, kind, secret_hash, csrf, language, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		s.ID, s.AccountID, string(s.Kind), hashClientSecret(secret), s.CSRF, s.Language, s.CreatedAt, s.ExpiresAt); err != nil {
		return "", fmt.Errorf("insert client session: %w", err)
	}
	return secret, nil
}

// Redeem applies client.DecideRedemption.
func (db *ClientIdentityStore) Redeem(ctx context.Context, red client.Redemption) (*client.Session, string, error) {
	var s *client.Session
	var secret string
	var hash string
	if red.Passkey == nil {
		// Checked before the (slow) hash and before anything is read.
		if err := client.ValidatePassphrase("passphrase", red.Passphrase); err != nil {
			return nil, "", err
		}
		hash = client.HashPassphrase(red.Passphrase)
	}
	err := db.withTx(ctx, func(tx *Tx) error {
		var inv *client.Invitation
		var acc *client.Account
		var ceremony *client.Ceremony
		var err error
		switch {
		case red.Ceremony != "":
			if ceremony, acc, err = db.findCeremony(ctx, tx, red.Ceremony, tx.now); err != nil {
				return err
			}
			if ceremony.InvitationID == "" {
				return client.ErrCode
			}
			inv, _, err = db.findInvitation(ctx, tx, `id = ?`, ceremony.InvitationID, tx.now)
		case red.Code != "":
			inv, acc, err = db.findInvitation(ctx, tx, `code_hash = ?`, client.HashCode(red.Code), tx.now)
		default:
			err = client.ErrCode
		}
		if err != nil {
			return err
		}
		s = client.NewSession(acc, red.Kind, red.Language, tx.now)
		evs, err := client.DecideRedemption(acc, inv, &red, s, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_invitations SET used_at = ? WHERE id = ?`), tx.now, inv.ID); err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		if red.Passkey != nil {
			pk := red.Passkey
			if _, err := tx.ExecContext(ctx, tx.Rebind(`
				INSERT INTO client_passkeys (id, account_id, credential_id, credential, created_at)
				VALUES (?, ?, ?, ?, ?)`), pk.ID, pk.AccountID, pk.CredentialID, string(pk.Credential), pk.CreatedAt); err != nil {
				if isConflict(db.translate(err)) {
					return countersign.Errorf(countersign.ECONFLICT, "This passkey is already registered.")
				}
				return fmt.Errorf("insert passkey: %w", err)
			}
		} else if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_accounts SET passphrase_hash = ? WHERE id = ?`), hash, acc.ID); err != nil {
			return fmt.Errorf("set passphrase: %w", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_accounts SET activated_at = COALESCE(activated_at, ?) WHERE id = ?`), tx.now, acc.ID); err != nil {
			return fmt.Errorf("activate account: %w", err)
		}
		if ceremony != nil {
			if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM client_ceremonies WHERE id = ?`), ceremony.ID); err != nil {
				return fmt.Errorf("end ceremony: %w", err)
			}
		}
		if secret, err = db.startSession(ctx, tx, s); err != nil {
			return err
		}
		return tx.apply(ctx, evs)
	})
	if err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

// The blind index of parties' e-mails (migration 0021). A party's e-mail is
// sealed with its case's key, so SQL cannot compare it; without an index a
// sign-in by e-mail opened every client's e-mail, on an endpoint anyone may
// call. parties.email_index is a keyed hash of the e-mail as sign-in
// compares it (normalEmail), written with the e-mail (AddParty), blanked
// with it (erasure; migration 0021's trigger for any other writer), and
// indexed, so a sign-in opens only the few rows whose index matches.
//
// Its key is derived from the event key (DB.EventKey), the secret every
// replica already shares outside the database and which is kept as long as
// the log (it cannot be rotated): whoever reads the database alone cannot
// test a guessed address against the index, as a plain SHA-256 would let
// them. Never a case key: the same address must index alike in every case,
// and a case key is shredded on erasure. The index is personal data under
// a key: it is never logged and never put in an audit payload.

// emailIndexLabel is what the event key signs to make the index's key:
// append only, never change; a new derivation takes a new label (and the
// column blanked, to be indexed again).
const emailIndexLabel = "countersign/party-email-index/v1"

// normalEmail is an e-mail as sign-in compares it: lower case, as
// client.ParseLogin lowers (and trims) what the client typed. The party's
// e-mail is stored as it was written (the API refuses one with spaces).
func normalEmail(e string) string { return strings.ToLower(e) }

// emailIndex returns the blind index of email, nil when it is empty.
func (db *conn) emailIndex(email string) (*string, error) {
	if email == "" {
		return nil, nil
	}
	if len(db.EventKey) == 0 {
		return nil, errNoEventKey
	}
	k := hmac.New(sha256.New, db.EventKey)
	k.Write([]byte(emailIndexLabel))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(normalEmail(email)))
	s := hex.EncodeToString(m.Sum(nil))
	return &s, nil
}

// emailIndexBatch bounds the rows indexEmails indexes per transaction.
const emailIndexBatch = 500

// unindexedEmails is the WHERE of the parties whose e-mail has no index:
// word for word the predicate of parties_email_unindexed_idx, which SQLite
// needs to use it (indexEmails writes it again with the table's alias).
const unindexedEmails = `email_index IS NULL AND email <> ''`

// indexEmails indexes the e-mails of the parties that have none: the rows
// written before migration 0021, and those a replica of the previous
// release writes during a rolling upgrade (it knows no index). Migrate
// cannot do it: Open migrates before the service sets the event and case
// keys it needs. So the sign-in by e-mail calls it, and it costs one read
// of an empty index once every row is indexed; the first sign-in after the
// upgrade indexes them all, a batch per transaction, and from then on only
// a row an older replica wrote. Rows are locked in id order (PostgreSQL),
// so replicas indexing at once wait for each other instead of repeating
// the work; a row whose e-mail does not open gets the empty index (nobody's)
// rather than failing every sign-in.
func (db *conn) indexEmails(ctx context.Context) error {
	var pending []string
	if err := db.r.SelectContext(ctx, &pending, `SELECT id FROM parties WHERE `+unindexedEmails+` LIMIT 1`); err != nil {
		return db.translate(fmt.Errorf("find unindexed emails: %w", err))
	}
	// Each row is read with its case's key row, and a batch is indexed by
	// one UPDATE: two statements per batch, whatever the cases.
	lock := db.dialect.forUpdate()
	if db.dialect.name() == "postgres" {
		lock = " FOR UPDATE OF p"
	}
	for len(pending) > 0 {
		err := db.withTx(ctx, func(tx *Tx) error {
			var rows []struct {
				ID     string `db:"id"`
				CaseID string `db:"case_id"`
				Email  string `db:"email"`
				joinedKey
			}
			if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT p.id, p.case_id, p.email, `+joinedKeyColumns+`
				FROM parties p LEFT JOIN case_keys k ON k.case_id = p.case_id
				WHERE p.email_index IS NULL AND p.email <> '' ORDER BY p.id LIMIT ?`+lock), emailIndexBatch); err != nil {
				return fmt.Errorf("find unindexed emails: %w", err)
			}
			if len(rows) == 0 {
				pending = nil
				return nil
			}
			var cases strings.Builder
			ids, args := make([]any, len(rows)), make([]any, 0, 3*len(rows))
			for i, r := range rows {
				idx := new(string) // empty: nobody's
				o, err := db.joinedOpener(r.CaseID, &r.joinedKey)
				var e string
				if err == nil {
					e, err = o.open(sealbox.Where{Table: "parties", Column: "email", Row: r.ID}, r.Email)
				}
				emailOpened(db, r.ID)
				switch {
				case errors.Is(err, sealbox.ErrOpen):
					// Altered or moved: it names no one (the case data
					// check reports it).
				case err != nil:
					// The keyring failed (a replica with an older
					// keyring): no row is marked for it.
					return err
				case e != "":
					if idx, err = db.emailIndex(e); err != nil {
						return err
					}
				}
				cases.WriteString(" WHEN ? THEN ?")
				args, ids[i] = append(args, r.ID, *idx), r.ID
			}
			args = append(args, ids...)
			if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE parties SET email_index = CASE id`+cases.String()+` END
				WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`), args...); err != nil {
				return fmt.Errorf("index emails: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// IndexEmails indexes the e-mails of the parties that have none
// (indexEmails). serve runs it once at start, once the keys are set, so the
// first sign-in by e-mail after an upgrade does not pay for the rows written
// before migration 0021; a sign-in still runs it first, for the rows an
// older replica writes meanwhile.
func (db *ClientIdentityStore) IndexEmails(ctx context.Context) error {
	return db.indexEmails(ctx)
}

// accountsByEmail returns the accounts with a passphrase whose party's
// email is email (as normalEmail compares it), at most two. It reads the
// rows whose blind index matches and opens their e-mails to compare them
// exactly, so a collision or a stale index never names the wrong account.
func (db *conn) accountsByEmail(ctx context.Context, email string) ([]string, error) {
	email = normalEmail(email)
	if err := db.indexEmails(ctx); err != nil {
		return nil, err
	}
	idx, err := db.emailIndex(email)
	if err != nil || idx == nil {
		return nil, err
	}
	var rows []struct {
		ID      string `db:"id"`
		PartyID string `db:"party_id"`
		CaseID  string `db:"case_id"`
		Email   string `db:"email"`
	}
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`
		SELECT a.id, p.id AS party_id, p.case_id, p.email FROM parties p JOIN client_accounts a ON a.party_id = p.id
		WHERE p.email_index = ? AND a.passphrase_hash IS NOT NULL AND p.email <> '' ORDER BY a.id`), *idx); err != nil {
		return nil, db.translate(fmt.Errorf("find account by email: %w", err))
	}
	o := db.openers(db.r)
	var ids []string
	for _, r := range rows {
		e, err := o.open(ctx, r.CaseID, sealbox.Where{Table: "parties", Column: "email", Row: r.PartyID}, r.Email)
		if err != nil {
			return nil, err
		}
		emailOpened(db, r.PartyID)
		if normalEmail(e) == email {
			if ids = append(ids, r.ID); len(ids) == 2 {
				break
			}
		}
	}
	return ids, nil
}

// onEmailOpened holds, for tests only (OnEmailOpened), what is told of
// each party whose e-mail a sign-in opened, by connection.
var onEmailOpened sync.Map

func emailOpened(db *conn, partyID string) {
	if f, ok := onEmailOpened.Load(db); ok {
		f.(func(string))(partyID)
	}
}

// SignInWithPassphrase checks a passphrase and starts a session. Every
// failure is client.ErrSignIn, and takes the time of an argon2id check.
func (db *ClientIdentityStore) SignInWithPassphrase(ctx context.Context, f client.SignInFilter, passphrase string, kind client.SessionKind, lang string) (*client.Session, string, error) {
	var r *accountRow
	var err error
	switch {
	case f.AccountID != "":
		r, err = db.findAccount(ctx, db.r, `a.id = ?`, f.AccountID)
	case f.Email != "":
		// An email shared by two clients' parties names no one: neither
		// may sign in with it (their account number works).
		var ids []string
		if ids, err = db.accountsByEmail(ctx, f.Email); err == nil && len(ids) == 1 {
			r, err = db.findAccount(ctx, db.r, `a.id = ?`, ids[0])
		} else if err == nil {
			err = client.ErrSignIn
		}
	default:
		err = client.ErrSignIn
	}
	if err != nil && countersign.ErrorCode(err) != countersign.ENOTFOUND && countersign.ErrorCode(err) != countersign.EUNAUTHORIZED {
		return nil, "", err
	}
	if r == nil || r.PassphraseHash == nil || r.DisabledAt != nil {
		client.CheckNoPassphrase(passphrase)
		return nil, "", client.ErrSignIn
	}
	if !client.CheckPassphrase(*r.PassphraseHash, passphrase) {
		return nil, "", client.ErrSignIn
	}
	acc := r.toDomain()
	var s *client.Session
	var secret string
	err = db.withTx(ctx, func(tx *Tx) error {
		var err error
		s, secret, err = db.signIn(ctx, tx, acc, kind, lang, "passphrase")
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

// signIn starts, in tx, a session of kind for acc in lang and records the
// sign-in by method (client.SignInEvent): the passphrase and the passkey
// sign-ins end the same way.
func (db *ClientIdentityStore) signIn(ctx context.Context, tx *Tx, acc *client.Account, kind client.SessionKind, lang, method string) (*client.Session, string, error) {
	s := client.NewSession(acc, kind, lang, tx.now)
	secret, err := db.startSession(ctx, tx, s)
	if err != nil {
		return nil, "", err
	}
	if err := tx.apply(ctx, []audit.Record{client.SignInEvent(acc, s, method)}); err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

// FindPasskeys returns an active account and its passkeys.
func (db *ClientIdentityStore) FindPasskeys(ctx context.Context, accountID string) (*client.Account, []*client.Passkey, error) {
	r, err := db.findAccount(ctx, db.r, `a.id = ?`, accountID)
	if err != nil || r.DisabledAt != nil {
		if err != nil && countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return nil, nil, err
		}
		return nil, nil, client.ErrSignIn
	}
	var rows []struct {
		ID           string    `db:"id"`
		CredentialID []byte    `db:"credential_id"`
		Credential   string    `db:"credential"`
		CreatedAt    time.Time `db:"created_at"`
	}
	if err := db.r.SelectContext(ctx, &rows, db.r.Rebind(`SELECT id, credential_id, credential, created_at FROM client_passkeys WHERE account_id = ? ORDER BY created_at, id`), accountID); err != nil {
		return nil, nil, fmt.Errorf("find passkeys: %w", db.translate(err))
	}
	keys := make([]*client.Passkey, len(rows))
	for i, k := range rows {
		keys[i] = &client.Passkey{ID: k.ID, AccountID: accountID, CredentialID: k.CredentialID, Credential: []byte(k.Credential), CreatedAt: k.CreatedAt.UTC()}
	}
	return r.toDomain(), keys, nil
}

// SignInWithPasskey ends a passkey sign-in ceremony, keeps the passkey's
// new state (its signature counter) and starts a browser session.
func (db *ClientIdentityStore) SignInWithPasskey(ctx context.Context, ceremony string, credentialID, credential []byte, lang string) (*client.Session, string, error) {
	var s *client.Session
	var secret string
	err := db.withTx(ctx, func(tx *Tx) error {
		c, _, err := db.findCeremony(ctx, tx, ceremony, tx.now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM client_ceremonies WHERE id = ?`), c.ID); err != nil {
			return fmt.Errorf("end ceremony: %w", err)
		}
		var accountID string
		if err := tx.GetContext(ctx, &accountID, tx.Rebind(`SELECT account_id FROM client_passkeys WHERE credential_id = ?`), credentialID); err != nil {
			return client.ErrSignIn
		}
		r, err := db.findAccount(ctx, tx, `a.id = ?`, accountID)
		if err != nil || r.DisabledAt != nil {
			return client.ErrSignIn
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_passkeys SET credential = ?, last_used_at = ? WHERE credential_id = ?`),
			string(credential), tx.now, credentialID); err != nil {
			return fmt.Errorf("update passkey: %w", err)
		}
		acc := r.toDomain()
		s, secret, err = db.signIn(ctx, tx, acc, client.KindBrowser, lang, "passkey")
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

type clientSessionRow struct {
	ID        string     `db:"s_id"`
	AccountID string     `db:"s_account_id"`
	Kind      string     `db:"s_kind"`
	CSRF      string     `db:"s_csrf"`
	Language  string     `db:"s_language"`
	CreatedAt time.Time  `db:"s_created_at"`
	ExpiresAt time.Time  `db:"s_expires_at"`
	EndedAt   *time.Time `db:"s_ended_at"`
	accountRow
}

func (db *ClientIdentityStore) findSession(ctx context.Context, secret string, kind client.SessionKind) (*client.Session, client.Principal, error) {
	var r clientSessionRow
	err := db.r.GetContext(ctx, &r, db.r.Rebind(`
		SELECT s.id AS s_id, s.account_id AS s_account_id, s.kind AS s_kind, s.csrf AS s_csrf, s.language AS s_language,
		       s.created_at AS s_created_at, s.expires_at AS s_expires_at, s.ended_at AS s_ended_at, `+accountColumns+`
		FROM client_sessions s
		JOIN client_accounts a ON a.id = s.account_id
		JOIN parties p ON p.id = a.party_id
		WHERE s.secret_hash = ?`), hashClientSecret(secret))
	if err != nil {
		if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
			return nil, client.Principal{}, err
		}
		return nil, client.Principal{}, client.ErrSessionEnded
	}
	s := &client.Session{ID: r.ID, AccountID: r.AccountID, Kind: client.SessionKind(r.Kind), CSRF: r.CSRF, Language: r.Language,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), EndedAt: utcPtr(r.EndedAt)}
	if err := client.CheckSession(s, kind, r.DisabledAt != nil, db.Now().UTC()); err != nil {
		return nil, client.Principal{}, err
	}
	if err := db.openAccount(ctx, db.r, &r.accountRow); err != nil {
		return nil, client.Principal{}, err
	}
	return s, r.accountRow.toDomain().Principal(s.Language), nil
}

// AuthenticateClient returns the client of a bearer token.
func (db *ClientIdentityStore) AuthenticateClient(ctx context.Context, secret string) (*client.Session, client.Principal, error) {
	return db.findSession(ctx, secret, client.KindToken)
}

// FindClientSession returns the client of a browser session.
func (db *ClientIdentityStore) FindClientSession(ctx context.Context, secret string) (*client.Session, client.Principal, error) {
	return db.findSession(ctx, secret, client.KindBrowser)
}

// SetSessionLanguage remembers the language a client chose.
func (db *ClientIdentityStore) SetSessionLanguage(ctx context.Context, sessionID, lang string) error {
	if !client.ValidLanguage(lang) {
		return countersign.InvalidFields("The language could not be changed.", countersign.FieldError{Field: "lang", Message: "Choose English, French, Dutch or German."})
	}
	return db.withTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_sessions SET language = ? WHERE id = ? AND ended_at IS NULL`), lang, sessionID)
		return err
	})
}

// EndClientSession ends the session of secret (signing out).
func (db *ClientIdentityStore) EndClientSession(ctx context.Context, secret string) error {
	return db.withTx(ctx, func(tx *Tx) error {
		var r struct {
			ID        string `db:"id"`
			AccountID string `db:"account_id"`
			Kind      string `db:"kind"`
			CaseID    string `db:"case_id"`
		}
		if err := tx.GetContext(ctx, &r, tx.Rebind(`
			SELECT s.id, s.account_id, s.kind, p.case_id
			FROM client_sessions s
			JOIN client_accounts a ON a.id = s.account_id
			JOIN parties p ON p.id = a.party_id
			WHERE s.secret_hash = ? AND s.ended_at IS NULL`+db.dialect.forUpdate()), hashClientSecret(secret)); err != nil {
			if err := db.translate(err); countersign.ErrorCode(err) != countersign.ENOTFOUND {
				return err
			}
			return client.ErrSessionEnded
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE client_sessions SET ended_at = ? WHERE id = ?`), tx.now, r.ID); err != nil {
			return fmt.Errorf("end client session: %w", err)
		}
		acc := &client.Account{ID: r.AccountID, CaseID: r.CaseID}
		return tx.apply(ctx, []audit.Record{{Actor: acc.Actor(), Action: client.ActionSignedOut, SubjectType: "client_session", SubjectID: r.ID,
			CaseID: r.CaseID, Payload: audit.Payload{"account": r.AccountID, "session_kind": r.Kind}}})
	})
}
