package index

import (
	"slices"

	"github.com/audit-sealer/audit-sealer/chain"
)

// Identifiers returns the user identifiers and the entity identifiers an
// event's JSON holds. Package query matches its user and entity filters
// against exactly these lists, and Keys indexes exactly these, so an index
// built from a record lists it under every user and entity a query can
// select it by.
//
// Users are the strings actor.user_id, attempted_user, subject and
// requester. Entities are the strings of every top-level member whose name
// ends in "_id", and resource.resource_id and resource.parent_id. ok is
// false when eventJSON is not a JSON object. The result is what decoding
// the event into a map[string]any, numbers as json.Number, and reading
// those members gives (the last of duplicate members wins), found without
// building the maps. A number's value never matters, only its syntax: an
// event holding a number no float64 holds (1e400, in a free-form member)
// keeps its identifiers, so that it cannot hide from entity queries.
func Identifiers(eventJSON []byte) (users, entities []string, ok bool) {
	return identifiers(eventJSON)
}

// Keys returns the index keys of a record, sorted and without duplicates:
// "type:<type>" and "service:<service>" for every event and sealer event,
// with "user:<id>" and "entity:<id>" for its Identifiers (empty values are
// not keys). Other kinds of records have no keys.
func Keys(rec *chain.Record) []string {
	var keys []string
	eachKey(rec, new(idScan), func(prefix string, v []byte) { keys = append(keys, prefix+string(v)) })
	slices.Sort(keys)
	return slices.Compact(keys)
}

// eachKey calls fn with the kind prefix and the value of every key of
// rec, in no order and possibly more than once: the keys of Keys, found
// with the reusable scanner s and without building strings (fn must not
// keep v). Build and Keys share it so that they cannot disagree.
func eachKey(rec *chain.Record, s *idScan, fn func(prefix string, v []byte)) {
	if rec.Kind != chain.KindEvent && rec.Kind != chain.KindSealerEvent {
		return
	}
	key := func(prefix string, v []byte) {
		if len(v) > 0 && len(prefix)+len(v) <= maxKeyLen { // validKey
			fn(prefix, v)
		}
	}
	key("type:", rec.Type)
	key("service:", rec.Service)
	if !s.scan(rec.Event) {
		return
	}
	for _, u := range s.users {
		key("user:", u)
	}
	for _, e := range s.entities {
		key("entity:", e)
	}
}

// Indexable reports whether key can be in an index: a known kind of key
// with a non-empty value of bounded length. A query may use the index for
// a filter only if the filter's key is indexable; Keys leaves out the
// others, so their absence from an index says nothing.
func Indexable(key string) bool { return validKey([]byte(key)) }
