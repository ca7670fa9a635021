"""The field catalog: Datafiniti's own record fields, each with one Arrow type in every file.

Datafiniti publishes a data schema for each of its four data types (business, product,
property, people: https://docs.datafiniti.co/docs/product-data-schema and its siblings); the
catalog below follows those pages and the real result files in ``../shared/real-data``. Every
known field, at the top level and inside the nested lists (``reviews``, ``prices``, ``menus``,
``descriptions``, ``features``, ``brokers``, ``transactions``, ...), has a *kind* and says
whether it holds several values:

- identifiers, keys, codes, phones, postal codes, GTIN/UPC/EAN/ASIN and free text: ``string``;
- ``dateAdded``, ``dateUpdated``, ``*.date``, ``*.dateSeen``, ``*.dateAdded``, ...:
  ``timestamp`` (UTC, microseconds; a list where Datafiniti keeps several);
- latitude/longitude, amounts, prices, ratings, sizes: ``float`` (``double``);
- counts and years: ``integer`` (``int64``);
- flags (``isSale``, ``doRecommend``, ...): ``boolean``, read from ``true``/``TRUE``/``True``;
- nested lists of objects: ``records``, a list of structs whose fields are catalogued too.

A field the catalog does not know is typed by :func:`guess_kind`, from its name only (never
from the values a file happens to hold), so it also gets one type everywhere.

:func:`arrow_type` gives the Arrow type of a field; :func:`catalog_markdown` renders the
catalog for the README (a test keeps the README's copy in sync).

>>> arrow_type("postalCode"), arrow_type("reviews.rating"), arrow_type("prices.dateSeen")
(DataType(string), DataType(double), ListType(list<item: timestamp[us, tz=UTC]>))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from dfkit.errors import ArgumentError
from dfkit.vocabulary import DATA_TYPE_ENDPOINTS, DATA_TYPE_SPELLINGS, DATA_TYPES

__all__ = [
    "DATA_TYPES",
    "FIELDS",
    "TIMESTAMP",
    "Field",
    "Kind",
    "arrow_type",
    "catalog_markdown",
    "data_type_of",
    "field",
    "guess_kind",
    "is_records",
    "record_struct",
    "split_rule",
    "top_level_fields",
]

Kind = Literal["string", "float", "integer", "boolean", "timestamp", "records"]
#: Every timestamp of a record: UTC, microseconds.
TIMESTAMP = pa.timestamp("us", tz="UTC")

_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "float": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "timestamp": TIMESTAMP,
}


@dataclass(frozen=True)
class Field:
    """One catalogued field: dotted ``path`` (``reviews.rating``), kind, several values or one."""

    path: str
    kind: Kind
    many: bool
    types: tuple[str, ...]
    description: str


# path, kind ("[kind]" when it holds several values), data types (b, p, r = property,
# h = people; "*" = all), description. Children of a "records" field follow it, dotted.
_B, _P, _R, _H = "business", "product", "property", "people"
_ALL = "*"
_TABLE: list[tuple[str, str, str, str]] = [
    # --- identity and bookkeeping, every data type
    ("id", "string", _ALL, "Datafiniti's record id."),
    ("keys", "[string]", _ALL, "Keys Datafiniti merges records on."),
    ("dateAdded", "timestamp", _ALL, "When the record was first added."),
    ("dateUpdated", "timestamp", _ALL, "When the record was last updated or seen."),
    ("sourceURLs", "[string]", _ALL, "Pages the record's data was seen on."),
    ("domains", "[string]", _ALL, "Domains of the source URLs."),
    ("websiteIDs", "[string]", _ALL, "Ids of the source websites."),
    ("apiURLs", "[string]", _P, "API endpoints the data was read from."),
    ("imageURLs", "[string]", _ALL, "Image links."),
    ("primaryImageURLs", "[string]", _P, "Main image links."),
    # --- location (business, property, people)
    ("address", "string", "brh", "Street address."),
    ("city", "string", "brh", "City."),
    ("province", "string", "brh", "State or province (sometimes a neighbourhood)."),
    ("postalCode", "string", "brh", "Postal or ZIP code (text: leading zeros, ZIP+4)."),
    ("country", "string", "brh", "Two-letter country code."),
    ("county", "string", "br", "County."),
    ("countyFIPS", "string", "r", "County FIPS code."),
    ("neighborhoods", "[string]", "br", "Neighbourhoods."),
    ("latitude", "float", "brh", "Latitude in degrees."),
    ("longitude", "float", "brh", "Longitude in degrees."),
    ("geoLocation", "string", "br", "WKT point of the location."),
    ("geoLocationSource", "string", "b", "Where the location came from."),
    ("name", "string", "bpr", "Name of the business, product or property."),
    ("phones", "[string]", "bh", "Phone numbers (text)."),
    ("emails", "[string]", "bh", "E-mail addresses."),
    ("websites", "[string]", "bh", "Websites."),
    ("categories", "[string]", "bpr", "Category keywords."),
    ("primaryCategories", "[string]", "bp", "Standardised top categories."),
    ("secondaryCategories", "[string]", "p", "Standardised second-level categories."),
    ("descriptions", "records", "bpr", "Descriptions from various sources."),
    ("descriptions.dateSeen", "[timestamp]", "bpr", "When the description was seen."),
    ("descriptions.sourceURLs", "[string]", "bpr", "Where it was seen."),
    ("descriptions.value", "string", "bpr", "The description."),
    ("features", "records", "bpr", "Key/value features."),
    ("features.key", "string", "bpr", "Feature name."),
    ("features.value", "[string]", "bpr", "Feature values."),
    ("features.replace", "string", "bpr", "Replacement flag sent by some sources."),
    ("reviews", "records", "bp", "Reviews."),
    ("reviews.date", "timestamp", "bp", "When the review was written."),
    ("reviews.dateAdded", "timestamp", "bp", "When Datafiniti added the review."),
    ("reviews.dateSeen", "[timestamp]", "bp", "When the review was seen."),
    ("reviews.didPurchase", "boolean", "bp", "The reviewer bought the product."),
    ("reviews.doRecommend", "boolean", "bp", "The reviewer recommends it."),
    ("reviews.id", "string", "bp", "The source's review id."),
    ("reviews.numHelpful", "integer", "bp", "Readers who found it helpful."),
    ("reviews.rating", "float", "bp", "Rating (usually 1 to 5)."),
    ("reviews.sourceURLs", "[string]", "bp", "Where the review was seen."),
    ("reviews.text", "string", "bp", "Review text."),
    ("reviews.title", "string", "bp", "Review title."),
    ("reviews.userCity", "string", "bp", "Reviewer's city."),
    ("reviews.userProvince", "string", "bp", "Reviewer's province."),
    ("reviews.username", "string", "bp", "Reviewer's name."),
    # --- business
    ("cuisines", "[string]", _B, "Cuisines (eating places)."),
    ("claimed", "[string]", _B, "Sites where the owner claimed the listing."),
    ("hours", "records", _B, "Opening hours."),
    ("hours.day", "string", _B, "Day of the week."),
    ("hours.dept", "string", _B, "Department."),
    ("hours.hour", "string", _B, "Hours, as the source writes them."),
    ("isClosed", "boolean", _B, "The business has closed."),
    ("languagesSpoken", "[string]", _B, "Languages spoken."),
    ("menuPageURL", "string", _B, "Menu page."),
    ("menus", "records", _B, "Menu items and prices."),
    ("menus.amountMax", "float", _B, "Highest price."),
    ("menus.amountMin", "float", _B, "Lowest price."),
    ("menus.category", "string", _B, "Menu section."),
    ("menus.currency", "string", _B, "Currency code."),
    ("menus.dateSeen", "[timestamp]", _B, "When the item was seen."),
    ("menus.description", "string", _B, "Item description."),
    ("menus.name", "string", _B, "Item name."),
    ("menus.sourceURLs", "[string]", _B, "Where it was seen."),
    ("numEmployeesMin", "integer", _B, "Fewest employees."),
    ("numEmployeesMax", "integer", _B, "Most employees."),
    ("numRoom", "integer", "br", "Rooms (hotels, properties)."),
    ("paymentTypes", "[string]", _B, "Accepted payment types."),
    ("people", "records", _B, "People working there."),
    ("people.email", "string", _B, "E-mail."),
    ("people.name", "string", _B, "Name."),
    ("people.phone", "string", _B, "Phone (text)."),
    ("people.title", "string", _B, "Job title."),
    ("priceRangeCurrency", "string", _B, "Currency of the price range."),
    ("priceRangeMin", "float", _B, "Lowest price."),
    ("priceRangeMax", "float", _B, "Highest price."),
    ("revenueMin", "float", _B, "Lowest revenue."),
    ("revenueMax", "float", _B, "Highest revenue."),
    ("revenueCurrency", "string", _B, "Revenue currency."),
    ("sic", "string", _B, "SIC code (text)."),
    ("naics", "string", _B, "NAICS code (text)."),
    ("ein", "string", _B, "Employer id number (text)."),
    ("facebookPageURL", "string", _B, "Facebook page."),
    ("twitter", "string", _B, "Twitter handle."),
    ("yearIncorporated", "integer", _B, "Year of incorporation."),
    ("yearOpened", "integer", "b", "Year the location opened."),
    ("chainID", "string", _B, "Id of the chain."),
    # --- product
    ("asins", "[string]", _P, "Amazon ASINs (text)."),
    ("brand", "string", _P, "Brand as the source writes it."),
    ("canonicalBrand", "string", _P, "Normalised brand."),
    ("colors", "[string]", _P, "Colours."),
    ("count", "string", _P, "Units in the package, with a unit."),
    ("dimension", "string", _P, "Dimensions with units."),
    ("ean", "[string]", _P, "EAN codes (text)."),
    ("ean8", "[string]", _P, "EAN-8 codes (text)."),
    ("ean13", "[string]", _P, "EAN-13 codes (text)."),
    ("gtins", "[string]", _P, "GTINs (text)."),
    ("isbn", "[string]", _P, "ISBNs (text)."),
    ("upc", "[string]", _P, "UPC codes (text)."),
    ("upca", "[string]", _P, "UPC-A codes (text)."),
    ("upce", "[string]", _P, "UPC-E codes (text)."),
    ("manufacturer", "string", _P, "Manufacturer."),
    ("manufacturerNumber", "string", _P, "Manufacturer part number (text)."),
    ("model", "string", _P, "Model."),
    ("sizes", "[string]", _P, "Sizes."),
    ("skus", "records", _P, "Store SKUs."),
    ("skus.sourceURLs", "[string]", _P, "Where it was seen."),
    ("skus.value", "string", _P, "SKU (text)."),
    ("taxonomy", "[string]", _P, "Hierarchical classification."),
    *[(f"taxonomyLevel{i}", "[string]", _P, f"Classification, level {i}.") for i in range(1, 10)],
    ("weight", "string", _P, "Weight with its unit."),
    ("vin", "string", _P, "Vehicle identification number."),
    ("prices", "records", "pr", "Prices seen, with where and when."),
    ("prices.amountMax", "float", "pr", "Highest amount."),
    ("prices.amountMin", "float", "pr", "Lowest amount."),
    ("prices.availability", "string", "pr", "Availability as the source says it."),
    ("prices.color", "string", _P, "Colour the price is for."),
    ("prices.comment", "string", "pr", "Comment."),
    ("prices.condition", "string", _P, "new, used, refurbished, ..."),
    ("prices.currency", "string", "pr", "Currency code."),
    ("prices.date", "timestamp", "pr", "Date of the price."),
    ("prices.dateAdded", "timestamp", "pr", "When Datafiniti added it."),
    ("prices.dateSeen", "[timestamp]", "pr", "When it was seen."),
    ("prices.firstDateSeen", "timestamp", "pr", "First time seen."),
    ("prices.lastDateSeen", "timestamp", "pr", "Last time seen."),
    ("prices.isSale", "boolean", "pr", "A sale price."),
    ("prices.isSold", "boolean", _R, "The property sold at this price."),
    ("prices.merchant", "string", _P, "Merchant."),
    ("prices.offer", "string", _P, "Offer text."),
    ("prices.period", "string", _R, "Rent period."),
    ("prices.pricePerSquareFoot", "float", _R, "Price per square foot."),
    ("prices.returnPolicy", "string", _P, "Return policy."),
    ("prices.shipping", "string", _P, "Shipping terms."),
    ("prices.size", "string", _P, "Size the price is for."),
    ("prices.sourceURLs", "[string]", "pr", "Where it was seen."),
    ("prices.warranty", "string", _P, "Warranty."),
    ("merchants", "records", _P, "Merchants selling the product."),
    ("merchants.address", "string", _P, "Merchant's address."),
    ("merchants.availability", "string", _P, "Availability."),
    ("merchants.city", "string", _P, "City."),
    ("merchants.country", "string", _P, "Country."),
    ("merchants.dateSeen", "[timestamp]", _P, "When seen."),
    ("merchants.isPrivateSeller", "boolean", _P, "A private seller."),
    ("merchants.name", "string", _P, "Merchant name."),
    ("merchants.phone", "string", _P, "Phone (text)."),
    ("merchants.postalCode", "string", _P, "Postal code (text)."),
    ("merchants.province", "string", _P, "Province."),
    ("merchants.sourceURLs", "[string]", _P, "Where seen."),
    ("quantities", "records", _P, "Stock quantities seen."),
    ("quantities.dateSeen", "[timestamp]", _P, "When seen."),
    ("quantities.sourceURLs", "[string]", _P, "Where seen."),
    ("quantities.value", "float", _P, "Quantity."),
    ("financingAndLeasing", "records", _P, "Financing or leasing terms."),
    ("financingAndLeasing.additionalDetails", "[string]", _P, "Further terms."),
    ("financingAndLeasing.apr", "float", _P, "Annual percentage rate."),
    ("financingAndLeasing.currency", "string", _P, "Currency."),
    ("financingAndLeasing.dateSeen", "[timestamp]", _P, "When seen."),
    ("financingAndLeasing.downPayment", "float", _P, "Down payment."),
    ("financingAndLeasing.monthlyPaymentMax", "float", _P, "Highest monthly payment."),
    ("financingAndLeasing.monthlyPaymentMin", "float", _P, "Lowest monthly payment."),
    ("financingAndLeasing.sourceURLs", "[string]", _P, "Where seen."),
    ("financingAndLeasing.term", "string", _P, "Term."),
    ("mostRecentPriceAmount", "float", _P, "Latest price."),
    ("mostRecentPriceAvailability", "string", _P, "Availability at the latest price."),
    ("mostRecentPriceColor", "string", _P, "Colour of the latest price."),
    ("mostRecentPriceCondition", "string", _P, "Condition of the latest price."),
    ("mostRecentPriceCurrency", "string", _P, "Currency of the latest price."),
    ("mostRecentPriceDate", "timestamp", _P, "Date of the latest price."),
    ("mostRecentPriceDomain", "string", _P, "Domain of the latest price."),
    ("mostRecentPriceFirstDateSeen", "timestamp", _P, "First seen at the latest price."),
    ("mostRecentPriceIsSale", "boolean", _P, "The latest price is a sale price."),
    ("mostRecentPriceMerchant", "string", _P, "Merchant of the latest price."),
    ("mostRecentPriceSize", "string", _P, "Size of the latest price."),
    ("mostRecentPriceSourceURL", "string", _P, "Page of the latest price."),
    ("mostRecentPriceByDomain", "records", _P, "Latest price per domain."),
    ("mostRecentPriceByDomain.amount", "float", _P, "Price."),
    ("mostRecentPriceByDomain.availability", "string", _P, "Availability."),
    ("mostRecentPriceByDomain.condition", "string", _P, "Condition."),
    ("mostRecentPriceByDomain.currency", "string", _P, "Currency."),
    ("mostRecentPriceByDomain.date", "timestamp", _P, "Date."),
    ("mostRecentPriceByDomain.domain", "string", _P, "Domain."),
    ("mostRecentPriceByDomain.firstDateSeen", "timestamp", _P, "First seen."),
    ("mostRecentPriceByDomain.isSale", "boolean", _P, "A sale price."),
    ("mostRecentPriceByDomain.nonSalesAmount", "float", _P, "Price outside sales."),
    ("mostRecentPriceByDomain.sourceURL", "string", _P, "Page."),
    # --- property
    ("propertyType", "string", _R, "Property type."),
    ("propertyTaxes", "records", _R, "Property taxes."),
    ("propertyTaxes.amount", "float", _R, "Amount."),
    ("propertyTaxes.currency", "string", _R, "Currency."),
    ("propertyTaxes.dateSeen", "[timestamp]", _R, "When seen."),
    ("propertyTaxes.sourceURLs", "[string]", _R, "Where seen."),
    ("propertyTaxes.year", "integer", _R, "Tax year."),
    ("mlsNumber", "string", _R, "MLS listing number (text)."),
    ("mostRecentStatus", "string", _R, "Latest listing status."),
    ("mostRecentStatusDate", "timestamp", _R, "Date of the latest status."),
    ("mostRecentStatusFirstDateSeen", "timestamp", _R, "First seen at the latest status."),
    ("numBathroom", "float", _R, "Bathrooms (halves count as .5)."),
    ("numBedroom", "float", _R, "Bedrooms."),
    ("numFloor", "float", _R, "Floors."),
    ("numPeople", "integer", _R, "Occupancy."),
    ("numParkingSpaces", "integer", _R, "Parking spaces."),
    ("numUnit", "integer", _R, "Units."),
    ("floorSizeValue", "float", _R, "Floor size."),
    ("floorSizeUnit", "string", _R, "Unit of the floor size."),
    ("lotSizeValue", "float", _R, "Lot size."),
    ("lotSizeUnit", "string", _R, "Unit of the lot size."),
    ("yearBuilt", "integer", _R, "Year built."),
    ("buildingName", "string", _R, "Building name."),
    ("parcelNumbers", "records", _R, "Parcel numbers."),
    ("parcelNumbers.number", "string", _R, "Parcel number (text)."),
    ("parcelNumbers.dateSeen", "[timestamp]", _R, "When seen."),
    ("parking", "[string]", _R, "Parking."),
    ("appliances", "[string]", _R, "Appliances included."),
    ("architecturalStyles", "[string]", _R, "Architectural styles."),
    ("exteriorConstruction", "[string]", _R, "Exterior construction."),
    ("roofing", "[string]", _R, "Roofing."),
    ("taxID", "string", _R, "Tax id (text)."),
    ("legalDescription", "string", _R, "Legal description."),
    ("subdivision", "string", _R, "Subdivision."),
    ("zoning", "string", _R, "Zoning."),
    ("brokers", "records", _R, "Brokers who represented the property."),
    ("brokers.agent", "string", _R, "Agent."),
    ("brokers.company", "string", _R, "Company."),
    ("brokers.dateSeen", "[timestamp]", _R, "When seen."),
    ("brokers.emails", "[string]", _R, "E-mails."),
    ("brokers.firstName", "string", _R, "Agent's first name."),
    ("brokers.lastName", "string", _R, "Agent's last name."),
    ("brokers.licenseNumber", "string", _R, "Licence number (text)."),
    ("brokers.licenseType", "string", _R, "Licence type."),
    ("brokers.people_key", "string", _R, "Key of the agent's people record."),
    ("brokers.phones", "[string]", _R, "Phones (text)."),
    ("brokers.sourceURLs", "[string]", _R, "Where seen."),
    ("brokers.websites", "[string]", _R, "Websites."),
    ("deposits", "records", _R, "Deposits."),
    ("deposits.amount", "float", _R, "Amount."),
    ("deposits.currency", "string", _R, "Currency."),
    ("deposits.dateSeen", "[timestamp]", _R, "When seen."),
    ("deposits.sourceURLs", "[string]", _R, "Where seen."),
    ("fees", "records", _R, "Fees."),
    ("fees.amountMax", "float", _R, "Highest amount."),
    ("fees.amountMin", "float", _R, "Lowest amount."),
    ("fees.currency", "string", _R, "Currency."),
    ("fees.dateSeen", "[timestamp]", _R, "When seen."),
    ("fees.sourceURLs", "[string]", _R, "Where seen."),
    ("fees.type", "string", _R, "Fee type."),
    ("nearbySchools", "records", _R, "Nearby schools."),
    ("nearbySchools.address", "string", _R, "Address."),
    ("nearbySchools.assigned", "boolean", _R, "The property is assigned to the school."),
    ("nearbySchools.city", "string", _R, "City."),
    ("nearbySchools.country", "string", _R, "Country."),
    ("nearbySchools.dateSeen", "[timestamp]", _R, "When seen."),
    ("nearbySchools.distanceUnit", "string", _R, "Unit of the distance."),
    ("nearbySchools.distanceValue", "float", _R, "Distance."),
    ("nearbySchools.gradeLevels", "[string]", _R, "Grades taught."),
    ("nearbySchools.name", "string", _R, "School name."),
    ("nearbySchools.postalCode", "string", _R, "Postal code (text)."),
    ("nearbySchools.province", "string", _R, "Province."),
    ("nearbySchools.sourceURLs", "[string]", _R, "Where seen."),
    ("statuses", "records", _R, "Listing statuses over time."),
    ("statuses.date", "timestamp", _R, "Date of the status."),
    ("statuses.dateSeen", "[timestamp]", _R, "When seen."),
    ("statuses.isUnderContract", "boolean", _R, "Under contract."),
    ("statuses.sourceURLs", "[string]", _R, "Where seen."),
    ("statuses.type", "string", _R, "Status (For Sale, Sold, ...)."),
    ("owners", "records", _R, "Owners of the property."),
    ("owners.dateSeen", "[timestamp]", _R, "When seen."),
    ("owners.firstName", "string", _R, "First name."),
    ("owners.lastName", "string", _R, "Last name."),
    ("owners.name", "string", _R, "Name (person or company)."),
    ("owners.isCompany", "boolean", _R, "The owner is a company."),
    ("owners.mailingAddress", "string", _R, "Mailing address."),
    ("owners.phones", "[string]", _R, "Phones (text)."),
    ("owners.emails", "[string]", _R, "E-mails."),
    ("owners.sourceURLs", "[string]", _R, "Where seen."),
    ("transactions", "records", _R, "Sales and other transactions."),
    ("transactions.buyerFirstName", "string", _R, "Buyer's first name."),
    ("transactions.buyerLastName", "string", _R, "Buyer's last name."),
    ("transactions.buyerName", "string", _R, "Buyer."),
    ("transactions.contractDate", "timestamp", _R, "Contract date."),
    ("transactions.date", "timestamp", _R, "Transaction date."),
    ("transactions.dateSeen", "[timestamp]", _R, "When seen."),
    ("transactions.documentNumber", "string", _R, "Document number (text)."),
    ("transactions.documentType", "string", _R, "Document type."),
    ("transactions.mortgageAmount", "float", _R, "Mortgage amount."),
    ("transactions.price", "float", _R, "Sale price."),
    ("transactions.recordingDate", "timestamp", _R, "Recording date."),
    ("transactions.saleDate", "timestamp", _R, "Sale date."),
    ("transactions.saleAmount", "float", _R, "Sale amount."),
    ("transactions.sellerFirstName", "string", _R, "Seller's first name."),
    ("transactions.sellerLastName", "string", _R, "Seller's last name."),
    ("transactions.sellerName", "string", _R, "Seller."),
    ("transactions.sourceURLs", "[string]", _R, "Where seen."),
    ("transactions.type", "string", _R, "Transaction type."),
    ("assessedValues", "records", _R, "Assessed values."),
    ("assessedValues.improvementsAmount", "float", _R, "Improvements."),
    ("assessedValues.landAmount", "float", _R, "Land."),
    ("assessedValues.totalAmount", "float", _R, "Total."),
    ("assessedValues.year", "integer", _R, "Year assessed."),
    ("availableDates", "records", _R, "Dates the property is available."),
    ("availableDates.dateSeen", "[timestamp]", _R, "When seen."),
    ("availableDates.endDate", "timestamp", _R, "End."),
    ("availableDates.sourceURLs", "[string]", _R, "Where seen."),
    ("availableDates.startDate", "timestamp", _R, "Start."),
    ("rules", "[string]", _R, "House rules."),
    ("leasingTerms", "records", _R, "Leasing terms."),
    ("leasingTerms.dateSeen", "[timestamp]", _R, "When seen."),
    ("leasingTerms.sourceURLs", "[string]", _R, "Where seen."),
    ("leasingTerms.value", "string", _R, "Term."),
    # --- people
    ("firstName", "string", _H, "First name."),
    ("middleName", "string", _H, "Middle name."),
    ("lastName", "string", _H, "Last name."),
    ("fullName", "string", _H, "Full name."),
    ("title", "string", _H, "Title (Dr, Mr, ...)."),
    ("gender", "string", _H, "Gender."),
    ("jobTitle", "string", _H, "Job title."),
    ("jobFunction", "string", _H, "Job function."),
    ("jobLevel", "string", _H, "Seniority."),
    ("businessName", "string", _H, "Employer."),
    ("businessAddress", "string", _H, "Employer's address."),
    ("businessCity", "string", _H, "Employer's city."),
    ("businessProvince", "string", _H, "Employer's province."),
    ("businessPostalCode", "string", _H, "Employer's postal code (text)."),
    ("businessCountry", "string", _H, "Employer's country."),
    ("businessDomain", "string", _H, "Employer's domain."),
    ("industry", "string", _H, "Industry."),
    ("linkedinURL", "string", _H, "LinkedIn profile."),
    ("socialMedia", "[string]", _H, "Social media profiles."),
    ("ageMin", "integer", _H, "Lowest age estimate."),
    ("ageMax", "integer", _H, "Highest age estimate."),
    ("dateOfBirth", "timestamp", _H, "Date of birth."),
    ("educations", "records", _H, "Education."),
    ("educations.dateSeen", "[timestamp]", _H, "When seen."),
    ("educations.degree", "string", _H, "Degree."),
    ("educations.school", "string", _H, "School."),
    ("educations.yearEnd", "integer", _H, "Year finished."),
    ("educations.yearStart", "integer", _H, "Year started."),
    ("experiences", "records", _H, "Work experience."),
    ("experiences.businessName", "string", _H, "Employer."),
    ("experiences.dateSeen", "[timestamp]", _H, "When seen."),
    ("experiences.endDate", "timestamp", _H, "End."),
    ("experiences.jobTitle", "string", _H, "Job title."),
    ("experiences.startDate", "timestamp", _H, "Start."),
    ("interests", "[string]", _H, "Interests."),
    ("skills", "[string]", _H, "Skills."),
]

_TYPE_LETTERS = {"b": _B, "p": _P, "r": _R, "h": _H}


def _build() -> dict[str, Field]:
    out: dict[str, Field] = {}
    for path, spec, types, description in _TABLE:
        many = spec.startswith("[")
        kind = spec.strip("[]")
        assert kind in (*_ARROW, "records"), (path, spec)
        where: tuple[str, ...]
        if types == _ALL:
            where = DATA_TYPES
        elif types in DATA_TYPES:
            where = (types,)
        else:
            where = tuple(_TYPE_LETTERS[t] for t in types)
        assert path not in out, f"{path} catalogued twice"
        out[path] = Field(path, kind, many or kind == "records", where, description)  # type: ignore[arg-type]
    return out


#: Every catalogued field by dotted path, top-level fields and their children.
FIELDS: dict[str, Field] = _build()

# Name rules for fields the catalog does not know, on the last dotted part of the name.
_GUESSES: tuple[tuple[re.Pattern[str], Kind, bool], ...] = (
    (re.compile(r"^dateSeen$"), "timestamp", True),
    (
        re.compile(r"^(date|dateAdded|dateUpdated|firstDateSeen|lastDateSeen|.+Date)$"),
        "timestamp",
        False,
    ),
    (re.compile(r"^(is|has|did|do)[A-Z]"), "boolean", False),
    (
        re.compile(r"^(latitude|longitude|amount|amountMax|amountMin|rating|.+Amount)$"),
        "float",
        False,
    ),
)


def guess_kind(path: str) -> tuple[Kind, bool]:
    """Return (kind, several values) for a field the catalog does not know, from its name.

    Only the name decides, so the same unknown field gets the same type in every file;
    anything not named like a date, a flag or an amount is text.

    >>> guess_kind("reviews.lastSeenDate"), guess_kind("isNew"), guess_kind("ean / upc")
    (('timestamp', False), ('boolean', False), ('string', False))
    """
    last = path.rsplit(".", 1)[-1]
    for pattern, kind, many in _GUESSES:
        if pattern.match(last):
            return kind, many
    return "string", False


def data_type_of(name: str) -> str:
    """Return the data type ``name`` spells (``"product"``, ``"products"``, ``"Property"``).

    >>> data_type_of("Businesses"), data_type_of("person")
    ('business', 'people')
    """
    plural = DATA_TYPE_SPELLINGS.get(str(name).strip().lower())
    if plural is None:
        raise ArgumentError(f"data_type must be one of {', '.join(DATA_TYPES)}, not {name!r}")
    return next(t for t, p in DATA_TYPE_ENDPOINTS.items() if p == plural)


def top_level_fields(data_type: str) -> list[str]:
    """Return the catalogued top-level fields of ``data_type``, in the catalog's order.

    >>> fields = top_level_fields("product")
    >>> "asins" in fields, "reviews" in fields, "postalCode" in fields
    (True, True, False)
    """
    kind = data_type_of(data_type)
    return [p for p, f in FIELDS.items() if "." not in p and kind in f.types]


def field(path: str) -> Field | None:
    """Return the catalogued field at ``path`` (``"reviews.rating"``), or None."""
    return FIELDS.get(path)


def _children(parent: str) -> list[Field]:
    prefix = parent + "."
    return [f for p, f in FIELDS.items() if p.startswith(prefix) and "." not in p[len(prefix) :]]


def record_struct(parent: str, extra: tuple[str, ...] = ()) -> pa.StructType:
    """Return the struct type of one element of the nested list ``parent``.

    Its fields are the catalogued children, then ``extra`` names the catalog does not know
    (typed by :func:`guess_kind`), in order.
    """
    fields = [pa.field(f.path.rsplit(".", 1)[1], arrow_type(f.path)) for f in _children(parent)]
    known = {f.name for f in fields}
    for name in extra:
        if name not in known:
            fields.append(pa.field(name, arrow_type(f"{parent}.{name}")))
    return pa.struct(fields)


def arrow_type(path: str) -> pa.DataType:
    """Return the Arrow type of the field at ``path``, catalogued or guessed from its name."""
    f = FIELDS.get(path)
    if f is None:
        kind, many = guess_kind(path)
    else:
        kind, many = f.kind, f.many
    if kind == "records":
        return pa.list_(record_struct(path))
    t = _ARROW[kind]
    return pa.list_(t) if many else t


def is_records(path: str) -> bool:
    """True when ``path`` is a catalogued nested list of objects (``reviews``, ``prices``, ...)."""
    f = FIELDS.get(path)
    return f is not None and f.kind == "records"


def split_rule(path: str) -> Literal["urls", "keys", "list"]:
    """Return how a CSV cell of the multi-valued field ``path`` is split into its values.

    Datafiniti joins the values of a CSV cell with a bare ``,``:

    - ``"list"``: a category name may itself hold ``", "`` (``Health, Household & Baby
      Care``), so a list is split only at a comma not followed by a space;
    - ``"urls"`` (``*URLs``, ``*URL``, ``websites``): a URL may hold any comma, so URL lists
      are split only where the next value starts (``,http``);
    - ``"keys"``: as a list, except within an *address key*. Business and property keys are
      ``country/province/city/address[/hash]`` (``us/tx/austin/100congressave/-1234``), and the
      address keeps the address's own commas (``us/ms/tupelo/3581nglosterst,stec/-1055723171``
      for "3581 N Gloster St, Ste C"). An address key is a value that starts with two
      lowercase letters and ``/`` and has three ``/`` before any comma; once a cell has one,
      a comma after it splits only where the next address key starts. Product keys
      (``brand/number``, ``site.com-id``, bare UPCs) hold no commas, and are split at every
      comma until an address key comes.

    >>> split_rule("categories"), split_rule("reviews.sourceURLs"), split_rule("keys")
    ('list', 'urls', 'keys')
    """
    last = path.rsplit(".", 1)[-1]
    if last.endswith(("URLs", "URL")) or last == "websites":
        return "urls"
    return "keys" if last == "keys" else "list"


def _type_text(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return f"list<{_type_text(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct"
    if t == TIMESTAMP:
        return "timestamp[us, UTC]"
    return str(t)


def catalog_markdown() -> str:
    """Return the field catalog as the Markdown table in the README's "Result records schema".

    >>> print(catalog_markdown().splitlines()[2])
    | `id` | `string` | one | all | Datafiniti's record id. |
    """
    lines = [
        "| field | Arrow / Parquet | values | data types | description |",
        "|---|---|---|---|---|",
    ]
    for path, f in FIELDS.items():
        t = "list<struct>" if f.kind == "records" else _type_text(arrow_type(path))
        many = "one" if not f.many else "several"
        types = "all" if f.types == DATA_TYPES else ", ".join(f.types)
        name = f"`{path}`" if "." not in path else f"&nbsp;&nbsp;`{path}`"
        lines.append(f"| {name} | `{t}` | {many} | {types} | {f.description} |")
    return "\n".join(lines)
