package testkit

import "github.com/audit-sealer/audit-sealer/event"

// ContractFile is one file generated from package event, by its path
// relative to the repository root.
type ContractFile struct {
	Path string
	Data []byte
}

// ContractFiles returns the event contract generated from package event:
// the JSON Schemas in schema/ and the catalogue EVENTS.md. Command
// event-contract writes them (go generate ./event); TestContractFiles
// checks that the committed files are exactly these.
func ContractFiles() ([]ContractFile, error) {
	var files []ContractFile
	for _, g := range []struct {
		path string
		gen  func() ([]byte, error)
	}{
		{"schema/events.schema.json", event.CatalogueSchema},
		{"schema/request.schema.json", event.RequestSchema},
		{"schema/reply.schema.json", event.ReplySchema},
		{"EVENTS.md", event.CatalogueMarkdown},
	} {
		data, err := g.gen()
		if err != nil {
			return nil, err
		}
		files = append(files, ContractFile{Path: g.path, Data: data})
	}
	return files, nil
}
