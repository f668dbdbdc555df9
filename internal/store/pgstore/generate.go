package pgstore

//go:generate go tool -modfile=../../../tools/go.mod sqlc generate -f dbsqlc/sqlc.yaml
