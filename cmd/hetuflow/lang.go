package main

import (
	"fmt"
	"os"
	"strings"
)

// lang is the language of the CLI's human messages. Machine output (JSON,
// fire times, log bytes, tables' column values) never changes with it, nor
// do the lines scripts read: "hetuflow dev is running: URL" and "hetuflow
// server ID listening on ADDR" stay as they are in every language.
type lang string

const (
	langEnglish lang = "en"
	langChinese lang = "zh-CN"
)

// resolveLang picks the language: --lang, else LC_ALL, LC_MESSAGES or LANG
// as POSIX orders them; Chinese for zh*, English otherwise.
func resolveLang(flag string, getenv func(string) string) lang {
	pick := flag
	if pick == "" {
		for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
			if v := getenv(k); v != "" {
				pick = v
				break
			}
		}
	}
	if strings.HasPrefix(strings.ToLower(pick), "zh") {
		return langChinese
	}
	return langEnglish
}

// lang returns the language chosen for this run.
func (g *globalFlags) language() lang { return resolveLang(g.lang, os.Getenv) }

// tr formats a human message in l; an unknown key is a programmer's error
// caught by the golden tests, shown as the key.
func (l lang) tr(key string, args ...any) string {
	m, ok := cliMessages[key]
	if !ok {
		return key
	}
	s := m[0]
	if l == langChinese {
		s = m[1]
	}
	return fmt.Sprintf(s, args...)
}

// cliMessages are the CLI's human messages: English, Simplified Chinese.
var cliMessages = map[string][2]string{
	"cluster.leader_none_yet": {"Leader: none yet", "主节点：尚未选出"},
	"cluster.leader_live":     {"Leader: %s (epoch %d, lease until %s)", "主节点：%s（任期 %d，租约至 %s）"},
	"cluster.leader_expired":  {"Leader: none (last %s, epoch %d, lease expired %s ago)", "主节点：无（上一任 %s，任期 %d，租约已过期 %s）"},
	"cluster.header":          {"SERVER\tADDRESS\tSTATUS\tROLE\tAGENTS\tVERSION\tLAST HEARTBEAT", "服务器\t地址\t状态\t角色\t执行器\t版本\t最近心跳"},
	"cluster.role_leader":     {"leader", "主节点"},
	"cluster.ago":             {"%s ago", "%s 前"},
	"cluster.agents":          {"Agents: %d online, %d draining, %d offline", "执行器：在线 %d，排空中 %d，离线 %d"},
	"cluster.queue":           {"Queue: %d tasks waiting", "队列：%d 个任务等待中"},
	"cluster.queue_oldest":    {"Queue: %d tasks waiting, the oldest for %s", "队列：%d 个任务等待中，最久已等 %s"},
	"migrate.applied":         {"migrations applied", "迁移已完成"},
	"server.first_start":      {"First start: these tokens are shown once. Store them now.", "首次启动：以下令牌只显示这一次，请立即保存。"},
	"server.admin_token":      {"  admin token (API): %s", "  管理员令牌（API）：%s"},
	"server.agent_token":      {"  agent token:       %s (shared; discouraged)", "  执行器令牌：       %s（共享令牌，不推荐）"},
	"server.enrol_agents":     {"  agents enrol:      POST /api/v1/agent-enroll-tokens with the admin token, then", "  执行器注册：       用管理员令牌调用 POST /api/v1/agent-enroll-tokens，然后"},
	"server.enrol_command":    {"                     hetuflow agent --server ws://%s --enroll-token <token>", "                     hetuflow agent --server ws://%s --enroll-token <令牌>"},
	"dev.sign_in":             {"  sign in:     %s  (one-time link, from this machine only)", "  登录：       %s（一次性链接，仅限本机）"},
	"server.start_agent":      {"  start an agent:    hetuflow agent --server ws://%s --token %s", "  启动执行器：       hetuflow agent --server ws://%s --token %s"},
	"dev.what":                {"  (SQLite and an agent in this process; Ctrl-C stops)", "  （本进程内含 SQLite 和一个执行器；按 Ctrl-C 停止）"},
	"dev.admin_token":         {"  admin token: %s", "  管理员令牌：%s"},
	"dev.console":             {"  web console: %s", "  Web 控制台：%s"},
	"dev.api_docs":            {"  API docs:    %s/docs", "  API 文档：  %s/docs"},
	"dev.try":                 {"Try it:", "试一试："},
}
