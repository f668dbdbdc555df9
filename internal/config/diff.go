package config

import (
	"reflect"
	"sort"
)

// liveKeys are the keys a running server applies on reload; every other
// changed key needs a restart. A section name stands for all its keys.
var liveKeys = map[string]bool{
	"log.level":             true,
	"scheduler.history_ttl": true,
	"alert":                 true,
}

// IsLive reports whether key (section.key) takes effect on a live reload.
func IsLive(key string) bool {
	if liveKeys[key] {
		return true
	}
	for i := range key {
		if key[i] == '.' {
			return liveKeys[key[:i]]
		}
	}
	return false
}

// Diff returns the TOML keys (section.key) whose values differ between a
// and b, sorted.
func Diff(a, b *Config) []string {
	var keys []string
	diffStruct(reflect.ValueOf(*a), reflect.ValueOf(*b), "", &keys)
	sort.Strings(keys)
	return keys
}

func diffStruct(a, b reflect.Value, prefix string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("toml")
		if name == "" {
			continue
		}
		key := prefix + name
		av, bv := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("envPrefix") != "" {
			diffStruct(av, bv, key+".", keys)
			continue
		}
		if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			*keys = append(*keys, key)
		}
	}
}
