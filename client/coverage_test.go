package client_test

import (
	"reflect"
	"testing"

	"github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/lifecycle/lifecycletest"
	"github.com/hetuflow/hetuflow/internal/server/agentauth"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/server/secrets"
	"github.com/hetuflow/hetuflow/internal/server/tasklog"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

// clientMethods names the client method of every API operation.
var clientMethods = map[string]string{
	"health": "Health", "ready": "Ready", "reload-config": "ReloadConfig",
	"login": "Login", "logout": "Logout", "get-me": "Me",
	"create-token": "CreateToken", "list-tokens": "ListTokens", "revoke-token": "RevokeToken", "query-audit": "QueryAudit",
	"create-enroll-token": "CreateEnrollToken", "list-enroll-tokens": "ListEnrollTokens", "revoke-enroll-token": "RevokeEnrollToken",
	"enroll-agent": "Enroll", "revoke-agent": "RevokeAgent",
	"list-alert-rules": "ListAlertRules", "create-alert-rule": "CreateAlertRule", "get-alert-rule": "GetAlertRule",
	"replace-alert-rule": "ReplaceAlertRule", "delete-alert-rule": "DeleteAlertRule", "test-alert-rule": "TestAlertRule",
	"list-alert-deliveries": "AlertDeliveries",
	"list-users":            "ListUsers", "create-user": "CreateUser", "set-user-password": "SetUserPassword", "set-user-grant": "SetUserGrant",
	"revoke-user-grant": "RevokeUserGrant", "delete-user": "DeleteUser",
	"put-secret": "PutSecret", "list-secrets": "ListSecrets", "get-secret": "GetSecret", "delete-secret": "DeleteSecret",
	"create-job": "CreateJob", "get-job": "GetJob", "replace-job": "ReplaceJob", "delete-job": "DeleteJob", "enable-job": "EnableJob",
	"disable-job": "DisableJob", "run-job": "RunJob", "query-jobs": "QueryJobs",
	"create-schedule": "CreateSchedule", "get-schedule": "GetSchedule", "replace-schedule": "ReplaceSchedule", "delete-schedule": "DeleteSchedule",
	"enable-schedule": "EnableSchedule", "disable-schedule": "DisableSchedule", "run-schedule": "RunSchedule", "query-schedules": "QuerySchedules",
	"preview-schedule": "PreviewSchedule", "preview-stored-schedule": "PreviewStoredSchedule", "schedule-ledger": "ScheduleLedger",
	"fire-hook": "FireHook", "rotate-hook-secret": "RotateHookSecret",
	"create-flow": "CreateFlow", "get-flow": "GetFlow", "replace-flow": "ReplaceFlow", "delete-flow": "DeleteFlow", "run-flow": "RunFlow",
	"query-flows": "QueryFlows", "get-flow-run": "GetFlowRun", "cancel-flow-run": "CancelFlowRun", "query-flow-runs": "QueryFlowRuns",
	"get-task": "GetTask", "cancel-task": "CancelTask", "query-tasks": "QueryTasks",
	"get-task-instance": "GetInstance", "get-task-instance-log": "ReadLog", "follow-task-instance-log": "FollowLog", "query-task-instances": "QueryInstances",
	"get-agent": "GetAgent", "query-agents": "QueryAgents", "drain-agent": "DrainAgent",
	"get-server": "GetServer", "query-servers": "QueryServers", "get-cluster": "Cluster",
}

// TestClientCoversEveryOperation: every operation the API serves, with
// every optional dependency wired, has a client method.
func TestClientCoversEveryOperation(t *testing.T) {
	logs, err := tasklog.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, log := teststore.SQLite(t), lifecycletest.WarnLogger(t)
	keys, err := secrets.ParseKeys("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Deps{Store: st, Logs: logs, Auth: adminAuth{}, Scheduler: nopScheduler{}, ServerID: "s1", Version: "test", Logger: log,
		AgentAuth: agentauth.New(agentauth.Config{}, st, nil, log), Secrets: secrets.New(st, keys)})
	ct := reflect.TypeFor[*client.Client]()
	seen := map[string]bool{}
	for _, r := range a.Routes() {
		seen[r.ID] = true
		m, ok := clientMethods[r.ID]
		if !ok {
			t.Errorf("%s %s (%s) has no client method: add one and list it here", r.Method, r.Path, r.ID)
			continue
		}
		if _, ok := ct.MethodByName(m); !ok {
			t.Errorf("client method %s of %s does not exist", m, r.ID)
		}
	}
	for id := range clientMethods {
		if !seen[id] {
			t.Errorf("operation %s is listed but not served", id)
		}
	}
}
