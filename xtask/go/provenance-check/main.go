// Validates an in-toto Statement carrying SLSA provenance v1 with the in-toto attestation
// library's own types: strict JSON decoding (an unknown or misspelt field is an error) and the
// library's Validate checks of the Statement and of the provenance predicate. Run by
// `cargo xtask supply-chain` on target/dist/portal.intoto.json.
package main

import (
	"fmt"
	"os"

	prov "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage", fmt.Errorf("provenance-check FILE"))
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("reading", err)
	}
	var statement ita.Statement
	if err := protojson.Unmarshal(data, &statement); err != nil {
		fail("the in-toto Statement", err)
	}
	if err := statement.Validate(); err != nil {
		fail("the in-toto Statement", err)
	}
	if statement.PredicateType != "https://slsa.dev/provenance/v1" {
		fail("predicateType", fmt.Errorf("%q is not https://slsa.dev/provenance/v1", statement.PredicateType))
	}
	predicate, err := protojson.Marshal(statement.Predicate)
	if err != nil {
		fail("the predicate", err)
	}
	var provenance prov.Provenance
	if err := protojson.Unmarshal(predicate, &provenance); err != nil {
		fail("the SLSA provenance v1 predicate", err)
	}
	if err := provenance.Validate(); err != nil {
		fail("the SLSA provenance v1 predicate", err)
	}
	fmt.Printf("valid: in-toto Statement v1 with SLSA provenance v1, %d subjects, builder %s\n",
		len(statement.Subject), provenance.GetRunDetails().GetBuilder().GetId())
}
