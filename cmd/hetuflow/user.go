package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/logging"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/auth"
	"github.com/hetuflow/hetuflow/internal/store"
)

// newUserCmd manages users against the database directly, like migrate:
// it works before any user exists and while no server runs.
func newUserCmd(g *globalFlags) *cobra.Command {
	var database string
	cmd := &cobra.Command{Use: "user", Short: "Create users, set passwords and grant roles (works on the database directly)"}
	cmd.PersistentFlags().StringVar(&database, "database", "", "database URL (postgres://… or sqlite:PATH); default from config")
	withStore := func(cmd *cobra.Command, fn func(ctx context.Context, st store.Store, hash func(string) string) error) error {
		cfg, err := loadConfig(g)
		if err != nil {
			return err
		}
		if database != "" {
			cfg.Database.URL = database
		}
		logger := newLogger(cfg.Log, os.Stderr)
		st, err := openStore(cmd.Context(), cfg, migrateFlag(cfg, false), logger)
		if err != nil {
			return err
		}
		defer st.Close()
		sc := cfg.Security
		params := auth.PasswordParams{Memory: sc.Argon2MemoryKiB, Time: sc.Argon2Time, Threads: sc.Argon2Threads}
		return fn(cmd.Context(), st, func(pw string) string { return auth.HashPassword(pw, params) })
	}

	var (
		name  string
		admin bool
	)
	create := &cobra.Command{
		Use:   "create --name NAME [--admin]",
		Short: "Create a user; the password is read from stdin, or prompted for on a terminal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			if err := auth.ValidateNewUser(name, pw); err != nil {
				return err
			}
			return withStore(cmd, func(ctx context.Context, st store.Store, hash func(string) string) error {
				role, ns := model.RoleNone, ""
				if admin {
					role, ns = model.RoleAdmin, model.AllNamespaces
				}
				var user *model.User
				err := store.InTx(ctx, st, func(ex store.Executor) error {
					var err error
					user, err = auth.CreateUser(ctx, ex, name, hash(pw), role, ns)
					return err
				})
				if err != nil {
					return err
				}
				auth.Record(ctx, st, nil, &model.AuditEntry{Actor: cliActor(), ActorKind: "cli", Action: "user.create", ObjectType: "user", ObjectID: user.ID})
				fmt.Fprintf(cmd.OutOrStdout(), "user %s created (id %s)%s\n", user.Name, user.ID, map[bool]string{true: ", admin on every namespace"}[admin])
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "user name")
	create.Flags().BoolVar(&admin, "admin", false, "grant admin on every namespace")
	_ = create.MarkFlagRequired("name")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users and their grants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, st store.Store, _ func(string) string) error {
				users, err := st.UserList(ctx)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				for _, u := range users {
					grants, err := st.GrantList(ctx, &store.GrantListParams{UserID: u.ID})
					if err != nil {
						return err
					}
					var gs []string
					for _, g := range grants {
						gs = append(gs, g.Namespace+"="+string(g.Role))
					}
					fmt.Fprintf(w, "%-24s %s  %s\n", u.Name, u.ID, strings.Join(gs, ","))
				}
				return nil
			})
		},
	}

	var passwdName string
	passwd := &cobra.Command{
		Use:   "passwd --name NAME",
		Short: "Set a user's password (read from stdin, or prompted for); their sessions stay until they expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			if err := auth.ValidatePassword(pw); err != nil {
				return err
			}
			return withStore(cmd, func(ctx context.Context, st store.Store, hash func(string) string) error {
				u, err := st.UserGetByName(ctx, &store.UserGetByNameParams{Name: passwdName})
				if err != nil {
					return fmt.Errorf("user %q: %w", passwdName, err)
				}
				if _, err := st.UserSetPassword(ctx, &store.UserSetPasswordParams{ID: u.ID, PasswordHash: hash(pw)}); err != nil {
					return err
				}
				auth.Record(ctx, st, nil, &model.AuditEntry{Actor: cliActor(), ActorKind: "cli", Action: "user.passwd", ObjectType: "user", ObjectID: u.ID})
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\n", u.Name)
				return nil
			})
		},
	}
	passwd.Flags().StringVar(&passwdName, "name", "", "user name")
	_ = passwd.MarkFlagRequired("name")

	var grantName, grantNS, grantRole string
	grant := &cobra.Command{
		Use:   "grant --name NAME --namespace NS --role ROLE",
		Short: "Give a user a role (viewer, operator, editor, admin, or none to remove) in a namespace or * for all",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			role := model.Role(grantRole)
			if grantRole != "none" && !role.Valid() {
				return &model.FieldError{Field: "--role", Reason: "must be viewer, operator, editor, admin or none"}
			}
			if grantNS != model.AllNamespaces {
				if err := model.ValidateNamespace("--namespace", grantNS); err != nil {
					return err
				}
			}
			return withStore(cmd, func(ctx context.Context, st store.Store, _ func(string) string) error {
				u, err := st.UserGetByName(ctx, &store.UserGetByNameParams{Name: grantName})
				if err != nil {
					return fmt.Errorf("user %q: %w", grantName, err)
				}
				if grantRole == "none" {
					_, err = st.GrantDelete(ctx, &store.GrantDeleteParams{UserID: u.ID, Namespace: grantNS})
				} else {
					_, err = st.GrantSet(ctx, &store.GrantSetParams{UserID: u.ID, Namespace: grantNS, Role: role})
				}
				if err != nil {
					return err
				}
				auth.Record(ctx, st, nil, &model.AuditEntry{Actor: cliActor(), ActorKind: "cli", Action: "user.grant", ObjectType: "user", ObjectID: u.ID, Namespace: grantNS,
					Diff: []byte(fmt.Sprintf(`{"role":{"to":%q}}`, grantRole))})
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s on %s\n", u.Name, grantRole, grantNS)
				return nil
			})
		},
	}
	grant.Flags().StringVar(&grantName, "name", "", "user name")
	grant.Flags().StringVar(&grantNS, "namespace", "", "namespace, or * for every namespace")
	grant.Flags().StringVar(&grantRole, "role", "", "viewer, operator, editor, admin, or none")
	for _, f := range []string{"name", "namespace", "role"} {
		_ = grant.MarkFlagRequired(f)
	}
	cmd.AddCommand(create, list, passwd, grant)
	return cmd
}

// readPassword reads the first line of stdin. On a terminal it prompts,
// with echo turned off by stty (no extra dependency), and asks twice.
func readPassword(cmd *cobra.Command) (string, error) {
	in := cmd.InOrStdin()
	f, ok := in.(*os.File)
	if !ok || !logging.IsTerminal(f) {
		return readLine(bufio.NewReader(in))
	}
	stty := func(arg string) {
		c := exec.Command("stty", arg)
		c.Stdin = f
		_ = c.Run()
	}
	stty("-echo")
	defer stty("echo")
	r := bufio.NewReader(f)
	fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
	a, err := readLine(r)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Again: ")
	b, err := readLine(r)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", err
	}
	if a != b {
		return "", errors.New("the passwords differ")
	}
	return a, nil
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// cliActor names who ran a CLI command, for the audit log.
func cliActor() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}
